"""Address forms families add through ``aster_address_resolvers``, and the forms whose family is missing.

aster-connect knows the runtime's forms; any other is asked of the families. Here: the
registry family's ``@handle/Service`` without that family (disabled, and not installed:
then connect must not import it either), checked offline by the family when it is there,
and a third-party family's ``%name`` (installed for real) dialled end to end against a
real server, whose greedy second prefix must never capture a ticket.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from aster_core.testing import assert_clean_error, isolated_env, run_aster

FAMILY = Path(__file__).parent / "fixture_family"

#: ``aster ARGS`` on a machine without aster-registry: the interpreter without its site
#: packages (-S), then a copy of them made of links to everything but aster-registry's files
#: (its metadata, and its package or editable path). At exit it writes the ``aster_*`` modules
#: the process imported to ``$MODULES_OUT``.
WITHOUT_REGISTRY = """
import atexit, json, os, site, sys

def record():
    with open(os.environ["MODULES_OUT"], "w") as out:
        json.dump(sorted(m for m in sys.modules if m.startswith("aster_")), out)

atexit.register(record)
site.addsitedir(os.environ["SITE_WITHOUT_REGISTRY"])
from aster_core.main import main
main(sys.argv[1:])
"""


def site_without_registry(base: Path) -> Path:
    """Links to every entry of this interpreter's site packages except aster-registry's."""
    mirror = base / "site-packages"
    mirror.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        name = entry.name.lower().replace("-", "_")
        if name.startswith(("aster_registry", "__editable__.aster_registry", "__editable___aster_registry")):
            continue
        (mirror / entry.name).symlink_to(entry)
    return mirror


@pytest.fixture(scope="module")
def percent_family(tmp_path_factory) -> dict[str, str]:
    """The ``%name`` family installed for real (pip, entry point and all) on PYTHONPATH."""
    target = tmp_path_factory.mktemp("percent-site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(FAMILY)], check=True, capture_output=True, timeout=300)
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))}


def without_registry(args: list[str], tmp_path: Path) -> tuple[subprocess.CompletedProcess, list[str]]:
    modules = tmp_path / "modules.json"
    env = {**os.environ, **isolated_env(tmp_path), "MODULES_OUT": str(modules),
           "SITE_WITHOUT_REGISTRY": str(site_without_registry(tmp_path))}
    env.pop("ASTER_SERVICE_ADDR", None)
    result = subprocess.run([sys.executable, "-S", "-c", WITHOUT_REGISTRY, *args], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=60)
    return result, json.loads(modules.read_text())


@pytest.mark.parametrize("args", [
    ["call", "@alice/EchoService.echo", "{}"],
    ["call", "@alice/EchoService", "EchoService.echo", "{}"],
    ["shell", "@alice/EchoService", "--json"],
    ["mcp", "@alice/EchoService", "--list"],
])
def test_a_registry_address_without_the_registry_family_names_it(args, tmp_path):
    result, modules = without_registry(args, tmp_path)
    line = assert_clean_error(result, 2, "'@alice/EchoService", "a registry address (@handle/Service)",
                              "aster-registry, is not installed")
    assert line.endswith("Hint: pip install aster-registry, or pass the service's aster1... ticket"), line
    assert not [m for m in modules if m.startswith("aster_registry")], modules  # connect never imports it
    assert "aster_connect.addresses" in modules


@pytest.mark.parametrize("env", [{"ASTER_DISABLE_PLUGINS": "aster-registry"},
                                 {"ASTER_PLUGINS": "aster-connect,aster-mcp"}])
@pytest.mark.parametrize("args", [
    ["call", "@alice/EchoService.echo", "{}"],
    ["shell", "@alice/EchoService"],
    ["mcp", "@alice/EchoService", "--list"],
])
def test_a_registry_address_with_the_registry_family_disabled_names_it(args, env, tmp_path):
    result = run_aster(args, env={**isolated_env(tmp_path), **env})
    line = assert_clean_error(result, 2, "a registry address (@handle/Service)", "aster-registry, is disabled")
    assert "Hint: enable aster-registry (see ASTER_PLUGINS, ASTER_DISABLE_PLUGINS, --no-plugins)" in line


def test_the_registry_family_checks_its_form_before_anything_is_dialled(tmp_path):
    env = isolated_env(tmp_path)
    for bad in ("@Alice/EchoService", "@alice/9x", "@/EchoService"):
        assert_clean_error(run_aster(["call", bad, "EchoService.echo", "{}"], env=env), 2,
                           "not a registry address", "@handle/Service")
    # well formed: resolution is the family's, which needs a registry to ask (none is configured)
    assert_clean_error(run_aster(["call", "@alice/EchoService.echo", "{}"], env=env), 2,
                       "no registry address configured")


def test_a_third_party_address_form_is_dialled_through_its_family(server, percent_family, tmp_path):
    book = tmp_path / "book.json"
    book.write_text(json.dumps({"echo": server.address, "junk": "not an address at all"}))
    env = {**isolated_env(tmp_path), **percent_family, "ASTER_TEST_PERCENT_BOOK": str(book)}

    result = run_aster(["call", "%echo", "EchoService.echo", '{"text": "via a family"}', "--json"], env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["text"] == "VIA A FAMILY"  # the highest EchoService shouts
    # a ticket is the runtime's form: the family's prefix "a" (refused by connect) never sees it
    result = run_aster(["call", server.address, "EchoService.echo", '{"text": "direct"}', "--json"], env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["text"] == "DIRECT"

    assert_clean_error(run_aster(["call", "%Echo", "EchoService.echo", "{}"], env=env), 2, "not a percent address")
    assert_clean_error(run_aster(["call", "%nobody", "EchoService.echo", "{}"], env=env), 4, "no peer '%nobody'")
    assert_clean_error(run_aster(["call", "%junk", "EchoService.echo", "{}"], env=env), 1,
                       "'%junk' resolved to something that is not an address", "aster_percent.resolve:Resolver")
    # a form nobody resolves is still just not an address
    assert_clean_error(run_aster(["call", "&echo", "EchoService.echo", "{}"], env=env), 2, "not an address")

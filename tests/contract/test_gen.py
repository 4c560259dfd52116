"""`aster contract gen`: manifests the runtime accepts, ids it agrees with, clear errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aster_core.testing import assert_clean_error

from tests.support.server import ServerStartError, start_server

from .conftest import REPO, SERVICES, aster

INVENTORY = f"{SERVICES}.shop:Inventory"
CART = f"{SERVICES}.shop:Cart"


def _gen(workdir: Path, *specs: str, out: str = ".aster/manifest.json", extra: tuple[str, ...] = (),
         cwd: Path | None = None):
    args = ["contract", "gen", *[a for s in specs for a in ("--service", s)], "--out", str(workdir / out), *extra]
    return aster(*args, cwd=cwd)


def _runtime_id(spec: str) -> str:
    import importlib

    from aster.contract import contract_id_from_service

    module, _, name = spec.partition(":")
    return contract_id_from_service(getattr(importlib.import_module(module), name))


def test_manifest_passes_the_runtime_startup_check_and_ids_agree(workdir):
    done = _gen(workdir, INVENTORY, CART, extra=("--json",))
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    manifest = json.loads((workdir / ".aster/manifest.json").read_text())
    assert isinstance(manifest, list) and [m["service"] for m in manifest] == ["Inventory", "Cart"]
    assert manifest[0]["serialization_modes"] == ["xlang"]
    assert manifest[1]["scoped"] == "session"
    with start_server([INVENTORY, CART], workdir=workdir, max_lifetime=120) as live:
        reported = {s["name"]: s["contract_id"] for s in live.info["services"]}
    for spec, row in zip((INVENTORY, CART), printed["services"]):
        assert row["contract_id"] == _runtime_id(spec) == reported[row["service"]]
    assert [m["contract_id"] for m in manifest] == [r["contract_id"] for r in printed["services"]]


def test_human_summary_has_one_line_per_service(workdir):
    done = _gen(workdir, INVENTORY, CART)
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Inventory v1: 5 methods, shared, contract " + _runtime_id(INVENTORY))
    assert "wrote" in done.stderr


SHOP = (REPO / "tests/contract/services/shop.py").read_text()
CHANGES = {
    "field": ('class GetItem:\n    sku: str = ""\n', 'class GetItem:\n    sku: str = ""\n    warehouse: str = ""\n'),
    "method": ("async def list_items(", "async def list_all("),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_changed_interface_makes_the_server_refuse_to_start(workdir, change):
    assert _gen(workdir, INVENTORY).returncode == 0
    old, new = CHANGES[change]
    assert old in SHOP
    (workdir / "shop_changed.py").write_text(SHOP.replace(old, new))
    with pytest.raises(ServerStartError) as refused:
        with start_server(["shop_changed:Inventory"], workdir=workdir, max_lifetime=120):
            pass
    assert "Contract identity mismatch" in refused.value.reason
    assert _runtime_id(INVENTORY) in refused.value.reason


def test_version_two_and_native_recursive_services(workdir):
    done = _gen(workdir, INVENTORY, f"{SERVICES}.shop_v2:InventoryV2", f"{SERVICES}.recursive:Tree",
                extra=("--json", "--semver", "2.0.0"))
    assert done.returncode == 0, done.stderr
    manifest = json.loads((workdir / ".aster/manifest.json").read_text())
    assert [(m["service"], m["version"]) for m in manifest] == [("Inventory", 1), ("Inventory", 2), ("Tree", 1)]
    assert manifest[1]["contract_id"] == _runtime_id(f"{SERVICES}.shop_v2:InventoryV2")
    assert manifest[2]["serialization_modes"] == ["native"]
    assert {m["semver"] for m in manifest} == {"2.0.0"}
    # the recursive type is described once, referring to itself
    from aster_contract.manifest import type_table

    node = type_table(manifest[2])["tree/Node"]
    assert node["name"] == "Node"
    assert {f["name"]: f.get("item_wire_tag") or f.get("wire_tag") for f in node["fields"]}["children"] == "tree/Node"
    # and its id still depends on the module path, which we say
    assert "Node (tests.contract.services.recursive) is recursive" in done.stderr


def test_vcs_fields_are_filled_in_a_git_checkout(workdir):
    _gen(workdir, INVENTORY)
    manifest = json.loads((workdir / ".aster/manifest.json").read_text())
    assert re.fullmatch(r"[0-9a-f]{40}", manifest["vcs_revision"] or "")


def test_types_without_wire_type_are_named_in_warnings(workdir):
    done = _gen(workdir, f"{SERVICES}.untagged:Echo")
    assert done.returncode == 0
    warnings = [line for line in done.stderr.splitlines() if line.startswith("Warning:")]
    named = sorted(re.search(r"Echo: (\w+) ", w).group(1) for w in warnings)
    assert named == ["Level", "Ping", "Pong"]  # Tagged carries @wire_type
    assert all("__main__" in w for w in warnings)


def test_untagged_ids_really_depend_on_the_module_name(workdir):
    """What the warning claims: the same file run as a script gets another id."""
    src = REPO / "tests/contract/services/untagged.py"
    (workdir / "untagged_copy.py").write_text(src.read_text())
    assert _gen(workdir, "untagged_copy:Echo", cwd=workdir).returncode == 0
    import subprocess
    import sys

    script = ("import runpy, sys; g = runpy.run_path('untagged_copy.py', run_name='__main__');"
              "from aster.contract import contract_id_from_service as c; print(c(g['Echo']))")
    as_main = subprocess.run([sys.executable, "-c", script], cwd=workdir, capture_output=True, text=True,
                             timeout=60).stdout.strip()
    manifest = json.loads((workdir / ".aster/manifest.json").read_text())
    assert re.fullmatch(r"[0-9a-f]{64}", as_main) and as_main != manifest["contract_id"]


def test_recursive_xlang_type_is_a_clear_error(workdir):
    done = _gen(workdir, f"{SERVICES}.recursive_xlang:Forest")
    assert_clean_error(done, 2, "recursive type Branch cannot", "NATIVE")
    assert not (workdir / ".aster").exists()


def test_syntax_error_is_a_clear_error(workdir):
    (workdir / "broken.py").write_text("def oops(:\n    pass\n")
    done = aster("contract", "gen", "--service", "broken:Svc", "--out", str(workdir / "m.json"), cwd=workdir)
    assert_clean_error(done, 2, "syntax error", "broken.py:1")
    assert not (workdir / "m.json").exists()


@pytest.mark.parametrize("spec, code, needle", [
    (f"{SERVICES}.shop:Color", 2, "is not a service class"),
    (f"{SERVICES}.shop:Nope", 4, "has no attribute 'Nope'"),
    ("no_such_module_here:Svc", 4, "no module named"),
    ("not-a-spec", 2, "is not MODULE:CLASS"),
])
def test_bad_service_specs(workdir, spec, code, needle):
    done = _gen(workdir, spec)
    assert_clean_error(done, code, needle)
    assert not (workdir / ".aster").exists()


def test_a_failing_import_keeps_the_previous_manifest(workdir):
    assert _gen(workdir, INVENTORY).returncode == 0
    before = (workdir / ".aster/manifest.json").read_bytes()
    done = _gen(workdir, INVENTORY, f"{SERVICES}.recursive_xlang:Forest")
    assert done.returncode == 2
    assert (workdir / ".aster/manifest.json").read_bytes() == before
    assert [p.name for p in (workdir / ".aster").iterdir()] == ["manifest.json"]


def test_each_type_is_described_once_and_old_layout_manifests_still_read(workdir):
    """Lean layout: one type table (the first method's ``types``), each type once, request and
    response messages the descriptors describe left out; every reader also takes the layout
    that repeated a ``types`` list on every method."""
    from aster_contract.manifest import type_table

    assert _gen(workdir, INVENTORY).returncode == 0
    path = workdir / ".aster/manifest.json"
    lean = json.loads(path.read_text())
    assert all("types" not in m for m in lean["methods"][1:])
    tags = [t["wire_tag"] for t in lean["methods"][0]["types"]]
    assert len(tags) == len(set(tags)) and "shop/Money" in tags and "shop/Color" in tags
    assert "shop/GetItem" not in tags   # get_item's descriptor says all there is about it
    table = type_table(lean)
    assert {"shop/GetItem", "shop/Item", "shop/ItemList", "shop/Money", "shop/Color"} <= set(table)
    assert [f["name"] for f in table["shop/Item"]["fields"]][:3] == ["sku", "name", "price"]  # declaration order
    # the same contract in the older layout: the full table repeated on every method
    old = json.loads(path.read_text())
    for method in old["methods"]:
        method["types"] = list(table.values())
    old_path = workdir / "old.json"
    old_path.write_text(json.dumps(old, indent=2))
    assert type_table(old) == table
    done = aster("contract", "diff", str(old_path), str(path), "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["changes"] == [], done.stdout
    for source, package in ((path, "lean_client"), (old_path, "old_client")):
        assert aster("contract", "gen-client", str(source), "--out", str(workdir / "gen"),
                     "--package", package).returncode == 0
    for name in ("types.py", "services.py"):
        assert ((workdir / "gen/lean_client" / name).read_text().replace("lean_client", "X")
                == (workdir / "gen/old_client" / name).read_text().replace("old_client", "X"))
    assert aster("contract", "export", "--manifest", str(old_path), "-o", str(workdir / "e")).returncode == 0
    done = aster("contract", "verify", str(workdir / "e/Inventory.aster.json"), "--manifest", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    # an export describes every message in full, once
    exported = json.loads((workdir / "e/Inventory.aster.json").read_text())
    assert sorted(t["wire_tag"] for t in exported["methods"][0]["types"]) == sorted(table)

"""Names the contract family turns into files, identifiers and packages are matched whole: a
trailing newline, a carriage return or a NUL never passes (with ``re.match`` and ``$`` a name
ending in a newline did, and became a file name or an unquoted TypeScript key)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aster_core.errors import UsageError

from .conftest import SERVICES, aster

CONTROLS = ("\n", "\r", "\x00")
CART = f"{SERVICES}.shop:Cart"


@pytest.mark.parametrize("bad", CONTROLS)
def test_name_and_id_checks_refuse_a_control_character(bad):
    from aster_contract.export import safe_service_name
    from aster_contract.live import is_address
    from aster_contract.validate import check_manifest

    assert safe_service_name("Cart", "x") == "Cart"
    with pytest.raises(UsageError, match="file name"):
        safe_service_name("Cart" + bad, "x")
    assert is_address("ab" * 32) and not is_address("ab" * 32 + bad)
    manifest = {"service": "Cart", "version": 1, "contract_id": "ab" * 32, "methods": []}
    check_manifest(dict(manifest), "m.json")
    for key, value in (("contract_id", "ab" * 32 + bad), ("service", "Cart" + bad)):
        with pytest.raises(UsageError, match=key if key == "contract_id" else "service"):
            check_manifest({**manifest, key: value}, "m.json")


@pytest.fixture
def cart_manifest(workdir: Path) -> Path:
    manifest = workdir / ".aster" / "manifest.json"
    assert aster("contract", "gen", "--service", CART, "--out", str(manifest)).returncode == 0
    return manifest


@pytest.mark.parametrize("bad", CONTROLS)
def test_gen_client_refuses_a_package_name_with_a_control_character(workdir, cart_manifest, bad):
    for lang in ("python", "typescript"):
        done = aster("contract", "gen-client", str(cart_manifest), "--out", str(workdir / "gen"), "--lang", lang,
                     "--package", "cart_client" + bad)
        assert done.returncode == 2 and "--package" in done.stderr and "Traceback" not in done.stderr
    assert not (workdir / "gen").exists()


@pytest.mark.parametrize("bad", CONTROLS)
def test_a_service_name_with_a_control_character_makes_no_file(workdir, cart_manifest, bad):
    doc = json.loads(cart_manifest.read_text())
    docs = doc if isinstance(doc, list) else [doc]
    docs[0]["service"] = "Cart" + bad
    hostile = workdir / "hostile.json"
    hostile.write_text(json.dumps(docs))
    out = workdir / "exports"
    done = aster("contract", "export", "--manifest", str(hostile), "-o", str(out))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert not out.exists() or not any(bad in p.name for p in out.iterdir())
    done = aster("contract", "gen-client", str(hostile), "--out", str(workdir / "gen"), "--lang", "typescript")
    assert done.returncode == 2 and not (workdir / "gen").exists()


@pytest.mark.parametrize("bad", CONTROLS)
def test_typescript_keys_that_are_not_identifiers_are_quoted(cart_manifest, bad):
    """A manifest held in memory (not re-read through the validator) reaches the generator as it is."""
    from aster_contract.codegen_typescript import generate

    doc = json.loads(cart_manifest.read_text())
    docs = doc if isinstance(doc, list) else [doc]
    docs[0]["methods"][0]["fields"][0]["name"] = "sku" + bad
    types = generate(docs, "cart")[0]["cart/types.ts"]
    assert json.dumps("sku" + bad) + "?: string;" in types and "  sku" + bad not in types

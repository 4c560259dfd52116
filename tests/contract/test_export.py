"""export / import / verify round trip, and every bad file failing cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aster_core.testing import assert_clean_error

from .conftest import SERVICES, aster

INVENTORY = f"{SERVICES}.shop:Inventory"
CART = f"{SERVICES}.shop:Cart"


@pytest.fixture
def manifest(workdir: Path) -> Path:
    path = workdir / ".aster/manifest.json"
    done = aster("contract", "gen", "--service", INVENTORY, "--service", CART, "--out", str(path))
    assert done.returncode == 0, done.stderr
    return path


def test_export_import_verify_round_trip(workdir, manifest, aster_env):
    out = workdir / "exports"
    done = aster("contract", "export", "--manifest", str(manifest), "-o", str(out), "--json")
    assert done.returncode == 0, done.stderr
    written = json.loads(done.stdout)
    assert sorted(p.name for p in out.iterdir()) == ["Cart.aster.json", "Inventory.aster.json"]
    exported = json.loads((out / "Inventory.aster.json").read_text())
    original = json.loads(manifest.read_text())[0]
    assert exported["aster_contract"] == "1"
    assert exported["contract_id"] == "blake3:" + original["contract_id"]
    assert [m["name"] for m in exported["methods"]] == sorted(m["name"] for m in original["methods"])
    for method in exported["methods"]:
        assert [f["name"] for f in method["fields"]] == sorted(f["name"] for f in method["fields"])
    assert {w["service"] for w in written} == {"Inventory", "Cart"}

    done = aster("contract", "import", str(out / "Inventory.aster.json"), "--json")
    assert done.returncode == 0, done.stderr
    stored = Path(json.loads(done.stdout)["path"])
    assert stored == aster_env / "contracts" / "Inventory" / f"{original['contract_id'][:16]}.aster.json"
    assert json.loads(stored.read_text()) == exported

    done = aster("contract", "verify", str(stored), "--manifest", str(manifest))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK: Inventory v1 matches")

    # the verify default manifest is ./.aster/manifest.json
    assert aster("contract", "verify", str(out / "Cart.aster.json"), cwd=workdir).returncode == 0


def test_verify_reports_what_differs(workdir, manifest):
    out = workdir / "exports"
    assert aster("contract", "export", "--manifest", str(manifest), "-o", str(out)).returncode == 0
    v2 = workdir / "v2.json"
    assert aster("contract", "gen", "--service", f"{SERVICES}.shop_v2:InventoryV2", "--out", str(v2)).returncode == 0
    # a manifest of Inventory v2 only: the export (v1) is compared with it
    done = aster("contract", "verify", str(out / "Inventory.aster.json"), "--manifest", str(v2), "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["match"] is False
    text = "\n".join(report["differences"])
    assert "contract id differs" in text and "list_items" in text and "search" in text


def test_bad_exports_and_manifests(workdir, manifest):
    out = workdir / "exports"
    assert aster("contract", "export", "--manifest", str(manifest), "-o", str(out)).returncode == 0
    good = json.loads((out / "Inventory.aster.json").read_text())

    wrong_version = workdir / "wrong.aster.json"
    wrong_version.write_text(json.dumps({**good, "aster_contract": "2"}))
    assert_clean_error(aster("contract", "import", str(wrong_version)), 2, "unsupported aster_contract version '2'")

    malformed = workdir / "bad.aster.json"
    malformed.write_text('{"aster_contract": "1", "service": ')
    assert_clean_error(aster("contract", "import", str(malformed)), 2, "is not valid JSON")
    assert_clean_error(aster("contract", "verify", str(malformed), "--manifest", str(manifest)), 2, "is not valid JSON")

    assert_clean_error(aster("contract", "import", str(workdir / "missing.aster.json")), 4, "does not exist")
    assert_clean_error(aster("contract", "export", "--manifest", str(workdir / "none.json"), "-o", str(workdir / "x")),
                 4, "does not exist")
    assert not (workdir / "x").exists()

    bad_id = workdir / "badid.aster.json"
    bad_id.write_text(json.dumps({**good, "contract_id": good["contract_id"].removeprefix("blake3:")}))
    assert_clean_error(aster("contract", "import", str(bad_id)), 2, "blake3:<64 hex>")

    int_modes = workdir / "intmodes.json"   # what aster-cli 0.1.2 wrote
    int_modes.write_text(json.dumps({**json.loads(manifest.read_text())[0], "serialization_modes": [0]}))
    assert_clean_error(aster("contract", "export", "--manifest", str(int_modes), "-o", str(workdir / "y")),
                 2, "serialization_modes[0] must be a name like \"xlang\"")
    assert not (workdir / "y").exists()

    unknown_key = workdir / "unknown.json"
    unknown_key.write_text(json.dumps({**json.loads(manifest.read_text())[0], "colour": "blue"}))
    assert_clean_error(aster("contract", "verify", str(out / "Inventory.aster.json"), "--manifest", str(unknown_key)),
                 2, "unknown key(s) 'colour'")

    not_a_manifest = workdir / "list.json"
    not_a_manifest.write_text("[1, 2]")
    assert_clean_error(aster("contract", "diff", str(not_a_manifest), str(manifest)), 2, "must be a JSON object")


def test_unknown_service_in_a_multi_service_file(workdir, manifest):
    only_v2 = workdir / "tree.json"
    assert aster("contract", "gen", "--service", f"{SERVICES}.recursive:Tree", "--out", str(only_v2)).returncode == 0
    out = workdir / "exports"
    assert aster("contract", "export", "--manifest", str(manifest), "-o", str(out)).returncode == 0
    assert_clean_error(aster("contract", "verify", str(out / "Cart.aster.json"), "--manifest", str(only_v2)),
                 4, "service 'Cart' is not in")
    target = workdir / "client"
    assert_clean_error(aster("contract", "gen-client", str(manifest), "--service", "Nope", "--out", str(target)),
                 4, "service 'Nope' is not in")
    assert not target.exists()

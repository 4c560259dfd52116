"""diff classifies a prepared set of interface changes (library API and CLI)."""

from __future__ import annotations

import copy
import json
import sys

import pytest

from aster_contract.diff import diff_contracts
from aster_contract.manifest import build_manifests

from .conftest import REPO, SERVICES, aster

SHOP = (REPO / "tests/contract/services/shop.py").read_text()

# name: (old text, new text, expected (kind, compatible, method, field))
SOURCE_CHANGES = {
    "optional_request_field": ('class GetItem:\n    sku: str = ""\n',
                               'class GetItem:\n    sku: str = ""\n    warehouse: str = ""\n',
                               ("field_added", True, "get_item", "request.warehouse")),
    "required_request_field": ('class GetItem:\n    sku: str = ""\n',
                               'class GetItem:\n    warehouse: str\n    sku: str = ""\n',
                               ("field_added", False, "get_item", "request.warehouse")),
    "removed_field": ("    prefix: str = \"\"\n    limit: int = 3\n", "    prefix: str = \"\"\n",
                      ("field_removed", False, "list_items", "request.limit")),
    "retyped_field": ("    sku: str = \"\"\n    delta: int = 0\n", "    sku: str = \"\"\n    delta: float = 0.0\n",
                      ("field_retyped", False, "adjust", "request.delta")),
    "new_response_field": ("    count: int = 0\n    net: int = 0\n",
                           "    count: int = 0\n    net: int = 0\n    average: float = 0.0\n",
                           ("field_added", True, "adjust", "response.average")),
    "nested_field_retyped": ('    currency: str = "EUR"\n    cents: int = 0\n',
                             '    currency: str = "EUR"\n    cents: str = ""\n',
                             ("field_retyped", False, None, "Money.cents")),
    "new_enum_value": ("    BLUE = 3\n", "    BLUE = 3\n    PURPLE = 4\n",
                       ("enum_value_added", True, None, "Color.PURPLE")),
    "removed_enum_value": ("    BLUE = 3\n", "",
                           ("enum_value_removed", False, None, "Color.BLUE")),
    "new_method": ("    @bidi_stream\n    async def chat(",
                   "    @rpc\n    async def ping(self, request: Empty) -> Empty:\n        return Empty()\n\n"
                   "    @bidi_stream\n    async def chat(",
                   ("method_added", True, "ping", None)),
    "removed_method": ("    @rpc\n    async def list_items(", "    async def list_items(",
                       ("method_removed", False, "list_items", None)),
    "server_to_bidi": ("    @server_stream\n    async def watch(self, request: Watch) -> AsyncIterator[Item]:\n"
                       "        for n in range(request.limit):\n            yield Item(sku=f\"{request.prefix}{n}\", tags=[str(n)])",
                       "    @bidi_stream\n    async def watch(self, requests: AsyncIterator[Watch]) -> AsyncIterator[Item]:\n"
                       "        async for request in requests:\n            yield Item(sku=request.prefix)",
                       ("pattern_changed", False, "watch", None)),
    "shared_to_session": ('@service(name="Inventory", version=1)\nclass Inventory:',
                          '@service(name="Inventory", version=1, scoped="session")\nclass Inventory:\n'
                          '    def __init__(self, peer: object = None) -> None:\n        pass\n',
                          ("scope_changed", False, None, None)),
}


@pytest.fixture(scope="module")
def variants(tmp_path_factory) -> dict[str, list[dict]]:
    """Inventory manifests: the base and one per prepared change (each its own module)."""
    where = tmp_path_factory.mktemp("variants")
    sys.path.insert(0, str(where))
    try:
        out = {"base": build_manifests([f"{SERVICES}.shop:Inventory"]).manifests}
        for name, (old, new, _) in SOURCE_CHANGES.items():
            assert old in SHOP, name
            (where / f"shop_{name}.py").write_text(SHOP.replace(old, new, 1))
            out[name] = build_manifests([f"shop_{name}:Inventory"]).manifests
        return out
    finally:
        sys.path.remove(str(where))


@pytest.mark.parametrize("name", sorted(SOURCE_CHANGES))
def test_each_prepared_change_is_classified(variants, name):
    kind, compatible, method, field = SOURCE_CHANGES[name][2]
    result = diff_contracts(variants["base"], variants[name])
    matching = [c for c in result.changes if (c.kind, c.method, c.field) == (kind, method, field)]
    assert matching, [c.describe() for c in result.changes]
    assert all(c.compatible is compatible for c in matching)
    # nothing else is reported as breaking when the change itself is compatible
    assert result.breaking is (not compatible), [c.describe() for c in result.changes]


def test_no_change_means_no_changes(variants):
    result = diff_contracts(variants["base"], copy.deepcopy(variants["base"]))
    assert result.changes == [] and result.breaking is False


def test_services_added_removed_and_version_bump():
    v1 = build_manifests([f"{SERVICES}.shop:Inventory", f"{SERVICES}.shop:Cart"]).manifests
    v2 = build_manifests([f"{SERVICES}.shop_v2:InventoryV2", f"{SERVICES}.recursive:Tree"]).manifests
    result = diff_contracts(v1, v2)
    kinds = {(c.kind, c.service, c.method, c.compatible) for c in result.changes}
    assert ("service_removed", "Cart", None, False) in kinds
    assert ("service_added", "Tree", None, True) in kinds
    assert ("version_changed", "Inventory", None, False) in kinds
    assert ("method_added", "Inventory", "search", True) in kinds
    assert ("method_removed", "Inventory", "adjust", False) in kinds
    assert result.breaking


def test_unexplained_id_change_is_breaking(variants):
    new = copy.deepcopy(variants["base"])
    new[0]["contract_id"] = "0" * 64
    result = diff_contracts(variants["base"], new)
    assert [c.kind for c in result.changes] == ["contract_changed"] and result.breaking


def test_cli_exit_codes_and_json(workdir, variants):
    base, compatible, breaking = (workdir / f"{n}.json" for n in ("base", "compat", "break"))
    base.write_text(json.dumps(variants["base"][0]))
    compatible.write_text(json.dumps(variants["new_method"][0]))
    breaking.write_text(json.dumps(variants["removed_method"][0]))

    done = aster("contract", "diff", str(base), str(compatible))
    assert done.returncode == 0, done.stderr
    assert "compatible" in done.stdout and "ping" in done.stdout

    done = aster("contract", "diff", str(base), str(breaking), "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["breaking"] is True
    assert {"service": "Inventory", "method": "list_items", "field": None, "kind": "method_removed",
            "compatible": False, "detail": "method list_items removed"} in report["changes"]

    # an export on one side works the same as its manifest
    out = workdir / "exports"
    assert aster("contract", "export", "--manifest", str(base), "-o", str(out)).returncode == 0
    done = aster("contract", "diff", str(out / "Inventory.aster.json"), str(base))
    assert done.returncode == 0 and "no changes" in done.stdout


def test_preview_shows_methods_and_messages(workdir, variants):
    path = workdir / "m.json"
    path.write_text(json.dumps(variants["base"][0]))
    done = aster("contract", "preview", "--manifest", str(path))
    assert done.returncode == 0, done.stderr
    for text in ("Inventory", "get_item", "server_stream", "timeout 5s", "idempotent", "Money  (message, shop/Money)",
                 "cents: int = 0", "Color  (enum, shop/Color)", "GREEN = 2", "weight_kg: float?"):
        assert text in done.stdout, text
    done = aster("contract", "preview", "--service", f"{SERVICES}.shop:Cart", "--json")
    view = json.loads(done.stdout)[0]
    assert view["scoped"] == "session" and [m["name"] for m in view["methods"]] == ["add", "show"]
    assert aster("contract", "preview").returncode == 2

"""Generated clients: Python calls a real server for every pattern; TypeScript type-checks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.server import start_server

from .conftest import REPO, SERVICES, aster

INVENTORY = f"{SERVICES}.shop:Inventory"
CART = f"{SERVICES}.shop:Cart"
TS_DIR = REPO / "tests/contract/ts"

CALLS = textwrap.dedent("""
    import asyncio, json, sys
    from aster import AsterClient
    from aster.contract import contract_id_from_service
    from {package} import *

    async def main(address, only_flat):
        out = {{"ids": [contract_id_from_service(InventoryService) == InventoryClient.CONTRACT_ID,
                        contract_id_from_service(CartService) == CartClient.CONTRACT_ID]}}
        async with AsterClient(address=address) as client:
            inv = await InventoryClient.connect(client)
            if not only_flat:  # messages with nested types
                await typed_items(inv, out)
            async def deltas():
                for d in (4, 5, -2):
                    yield StockDelta(sku="a1", delta=d)
            summary = await inv.adjust(deltas())
            out["client_stream"] = [summary.count, summary.net]
            chat = inv.chat()
            replies = []
            for n, text in enumerate(("hi", "there")):
                await chat.send(Chat(text=text, seq=n))
                reply = await chat.recv()
                replies.append([reply.text, reply.seq])
            await chat.close()
            out["bidi"] = replies
            cart = await CartClient.connect(client)
            await cart.add(AddToCart(sku="a1", quantity=2))
            await cart.add(AddToCart(sku="b2"))
            state = await cart.show(Empty())
            out["session"] = [state.lines, state.size]
            await cart.close()
        print(json.dumps(out))

    async def typed_items(inv, out):
        item = await inv.get_item(GetItem(sku="a1"))
        out["unary"] = [item.name, item.price.cents, item.color.name, item.photo.hex(), item.weight_kg,
                        item.attributes]
        listing = await inv.list_items(Watch(prefix=""))
        out["nested"] = [listing.total, sorted(listing.by_sku), [i.price.cents for i in listing.items]]
        out["server_stream"] = [i.sku async for i in inv.watch(Watch(prefix="w", limit=3))]

    asyncio.run(asyncio.wait_for(main(sys.argv[1], sys.argv[2:] == ["flat"]), 60))
""")


def _run_client(workdir: Path, package: str, address: str, *flags: str) -> dict:
    script = workdir / "calls.py"
    script.write_text(CALLS.format(package=package))
    done = subprocess.run([sys.executable, str(script), address, *flags], cwd=workdir / "gen", capture_output=True,
                          text=True, timeout=90, env={**__import__("os").environ, "PYTHONPATH": str(workdir / "gen")})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


EXPECTED = {
    "ids": [True, True],
    "unary": ["apple", 120, "GREEN", "89504e47", 0.2, {"origin": "NL"}],
    "nested": [2, ["a1", "b2"], [120, 90]],
    "server_stream": ["w0", "w1", "w2"],
    "client_stream": [3, 7],
    "bidi": [["HI", 1], ["THERE", 2]],
    "session": [{"a1": 2, "b2": 1}, 3],
}


def test_python_client_from_an_export_calls_every_pattern(workdir):
    manifest = workdir / ".aster/manifest.json"
    assert aster("contract", "gen", "--service", INVENTORY, "--service", CART, "--out", str(manifest)).returncode == 0
    exports = workdir / "exports"
    assert aster("contract", "export", "--manifest", str(manifest), "-o", str(exports)).returncode == 0
    # two exports, one package each; the manifest itself covers both services
    done = aster("contract", "gen-client", str(manifest), "--out", str(workdir / "gen"), "--package", "shop_client")
    assert done.returncode == 0, done.stderr
    done = aster("contract", "gen-client", str(exports / "Inventory.aster.json"), "--out", str(workdir / "gen"))
    assert done.returncode == 0, done.stderr
    assert (workdir / "gen/inventory_client/services.py").is_file()
    with start_server([INVENTORY, CART], workdir=workdir, max_lifetime=120) as live:
        assert _run_client(workdir, "shop_client", live.address) == EXPECTED


def test_python_client_from_a_live_address(workdir):
    with start_server([INVENTORY, CART], workdir=workdir, max_lifetime=120) as live:
        done = aster("contract", "gen-client", live.address, "--out", str(workdir / "gen"),
                     "--package", "live_client", "--json", process=True)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["services"] == ["Inventory", "Cart"]
        # the runtime's published manifests do not describe nested types: said, not hidden
        assert "no definition of shop/Money" in done.stderr
        source = (workdir / "gen/live_client/services.py").read_text()
        for service in live.info["services"]:
            assert repr(service["contract_id"]) in source
        # so only the methods whose messages are fully described are exercised here
        result = _run_client(workdir, "live_client", live.address, "flat")
    assert result == {k: v for k, v in EXPECTED.items() if k in ("ids", "client_stream", "bidi", "session")}


def test_live_address_uses_an_imported_export_for_nested_types(workdir):
    manifest = workdir / "m.json"
    assert aster("contract", "gen", "--service", INVENTORY, "--out", str(manifest)).returncode == 0
    assert aster("contract", "export", "--manifest", str(manifest), "-o", str(workdir / "e")).returncode == 0
    assert aster("contract", "import", str(workdir / "e/Inventory.aster.json")).returncode == 0
    with start_server([INVENTORY], workdir=workdir, max_lifetime=120) as live:
        done = aster("contract", "gen-client", live.address, "--out", str(workdir / "gen"), process=True)
    assert done.returncode == 0 and "no definition" not in done.stderr
    assert "class Money:" in (workdir / "gen/inventory_client/types.py").read_text()


def test_native_recursive_service_client_imports(workdir):
    manifest = workdir / "tree.json"
    assert aster("contract", "gen", "--service", f"{SERVICES}.recursive:Tree", "--out", str(manifest)).returncode == 0
    assert aster("contract", "gen-client", str(manifest), "--out", str(workdir / "gen")).returncode == 0
    check = ("from tree_client import TreeService, TreeClient, Node;"
             "from aster.contract import contract_id_from_service as c;"
             "n = Node(name='root', children=[Node(name='leaf')]);"
             "print(n.children[0].name, c(TreeService) == TreeClient.CONTRACT_ID)")
    done = subprocess.run([sys.executable, "-c", check], cwd=workdir / "gen", capture_output=True, text=True, timeout=60)
    # the recursive back reference is named by module, so the stub's id differs from the producer's
    assert done.returncode == 0 and done.stdout.split()[0] == "leaf", done.stderr


def test_unreachable_and_malformed_addresses(workdir):
    target = workdir / "never"
    with start_server([CART], workdir=workdir, max_lifetime=120) as live:
        gone = live.address
    for address in (gone, "f" * 64):
        done = aster("contract", "gen-client", address, "--out", str(target), "--timeout", "3", process=True)
        assert done.returncode == 7 and done.stderr.startswith("Error: cannot reach"), done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    done = aster("contract", "gen-client", "aster1nope", "--out", str(target))
    assert done.returncode == 2 and "is not an Aster address" in done.stderr
    assert "Traceback" not in done.stderr and not target.exists()


def test_registry_address_without_the_registry_family_names_it(workdir):
    # only aster-contract is loaded here: the hint must say which family resolves @handle/Service
    target = workdir / "never"
    done = aster("contract", "gen-client", "@alice/TaskService", "--out", str(target))
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "aster-registry" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not target.exists()


def test_existing_foreign_directory_is_not_replaced(workdir):
    manifest = workdir / "m.json"
    assert aster("contract", "gen", "--service", CART, "--out", str(manifest)).returncode == 0
    mine = workdir / "gen/cart_client"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    done = aster("contract", "gen-client", str(manifest), "--out", str(workdir / "gen"))
    assert done.returncode == 2 and "was not generated by aster" in done.stderr
    assert (mine / "notes.txt").read_text() == "mine"
    # regenerating over our own output is fine
    assert aster("contract", "gen-client", str(manifest), "--out", str(workdir / "gen2")).returncode == 0
    assert aster("contract", "gen-client", str(manifest), "--out", str(workdir / "gen2")).returncode == 0
    assert sorted(p.name for p in (workdir / "gen2").iterdir()) == ["cart_client"]


# ── TypeScript ────────────────────────────────────────────────────────────────

USAGE_TS = """
import { AsterClientWrapper } from '@aster-rpc/aster';
import { InventoryClient, CartClient, Color, type Item, type StockDelta } from './shop/index.js';

export async function demo(wrapper: AsterClientWrapper): Promise<number> {
  const inv = new InventoryClient(wrapper);
  const item: Item = await inv.get_item({ sku: SKU });
  let n = item.color === Color.GREEN ? 1 : 0;
  for await (const i of inv.watch({ prefix: 'w', limit: 2 })) n += i.tags?.length ?? 0;
  async function* deltas(): AsyncGenerator<StockDelta> { yield { sku: 'a', delta: 1 }; }
  n += (await inv.adjust(deltas())).net ?? 0;
  const chat = inv.chat();
  await chat.send({ text: 'hi', seq: 1 });
  for await (const m of chat) { n += m.seq ?? 0; break; }
  const cart = new CartClient(wrapper);
  return n + ((await cart.add({ sku: 'a1', quantity: 2 })).size ?? 0);
}
"""


@pytest.fixture(scope="module")
def tsc() -> Path:
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node/npm are not installed: cannot type-check generated TypeScript")
    binary = TS_DIR / "node_modules/.bin/tsc"
    if not binary.exists():
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TS_DIR, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, f"npm ci in {TS_DIR} failed: {done.stderr[-2000:]}"
    return binary


def _typecheck(tsc: Path, where: Path, sku: str) -> subprocess.CompletedProcess:
    (where / "usage.ts").write_text(USAGE_TS.replace("SKU", sku))
    (where / "tsconfig.json").write_text(json.dumps({
        "compilerOptions": {"strict": True, "noEmit": True, "target": "ES2022", "module": "ESNext",
                            "moduleResolution": "bundler", "lib": ["ES2022"], "types": [],
                            "paths": {"@aster-rpc/aster": [str(TS_DIR / "aster-rpc-aster.d.ts")]}},
        "files": [str(TS_DIR / "aster-rpc-aster.d.ts"), "shop/index.ts", "usage.ts"]}))
    return subprocess.run([str(tsc), "-p", str(where / "tsconfig.json")], cwd=where, capture_output=True,
                          text=True, timeout=180)


def test_typescript_client_type_checks(workdir, tsc):
    manifest = workdir / "m.json"
    specs = [INVENTORY, CART, f"{SERVICES}.shop_v2:InventoryV2", f"{SERVICES}.recursive:Tree"]
    assert aster("contract", "gen", *[a for s in specs for a in ("--service", s)], "--out", str(manifest)).returncode == 0
    done = aster("contract", "gen-client", str(manifest), "--lang", "typescript", "--out", str(workdir / "ts"),
                 "--package", "shop")
    assert done.returncode == 0, done.stderr
    client = (workdir / "ts/shop/client.ts").read_text()
    assert "from '@aster-rpc/aster'" in client and "AsterClientWrapper" in client
    assert "class InventoryV2Client" in client and "class TreeClient" in client
    good = _typecheck(tsc, workdir / "ts", "'a1'")
    assert good.returncode == 0, good.stdout + good.stderr
    # the check has teeth: a wrongly typed request is rejected
    bad = _typecheck(tsc, workdir / "ts", "42")
    assert bad.returncode != 0 and "not assignable to type 'string'" in bad.stdout


def test_generated_clients_carry_the_bare_contract_id(workdir):
    """Exports say ``blake3:<hex>``; the released CLI copied that prefix into the generated
    constant. Every source (export, manifest, live address with an imported export) and both
    languages must give the runtime's bare 64-hex id."""
    from aster.contract import contract_id_from_service

    from tests.contract.services.shop import Inventory

    expected = contract_id_from_service(Inventory)
    manifest = workdir / "m.json"
    assert aster("contract", "gen", "--service", INVENTORY, "--out", str(manifest)).returncode == 0
    assert aster("contract", "export", "--manifest", str(manifest), "-o", str(workdir / "e")).returncode == 0
    export = workdir / "e/Inventory.aster.json"
    assert json.loads(export.read_text())["contract_id"] == "blake3:" + expected
    gen = workdir / "gen"
    for source, package in ((export, "from_export"), (manifest, "from_manifest")):
        done = aster("contract", "gen-client", str(source), "--out", str(gen), "--package", package)
        assert done.returncode == 0, done.stderr
    done = aster("contract", "gen-client", str(export), "--lang", "typescript", "--out", str(workdir / "ts"),
                 "--package", "ts_export")
    assert done.returncode == 0, done.stderr
    assert aster("contract", "import", str(export)).returncode == 0
    with start_server([INVENTORY], workdir=workdir, max_lifetime=120) as live:
        done = aster("contract", "gen-client", live.address, "--out", str(gen), "--package", "from_live",
                     process=True)
    assert done.returncode == 0, done.stderr
    check = ("import json, from_export, from_manifest, from_live;"
             "print(json.dumps([[m.InventoryClient.CONTRACT_ID, m.CONTRACT_IDS['Inventory']]"
             " for m in (from_export, from_manifest, from_live)]))")
    done = subprocess.run([sys.executable, "-c", check], cwd=gen, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [[expected, expected]] * 3
    for path in [*gen.rglob("*.py"), *(workdir / "ts").rglob("*.ts")]:
        assert "blake3:" not in path.read_text(), path
    assert f'contractId = "{expected}"' in (workdir / "ts/ts_export/client.ts").read_text()

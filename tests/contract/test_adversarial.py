"""Contracts from strangers, written as the attack.

A manifest, an export, an imported contract or a live producer is input from someone else.
Each payload below would run code when the generated client is imported (it writes a marker
file) if a name or string reached generated source unescaped. Every case ends one of two
ways, and the test says which: ``gen-client`` refuses (exit 2, one clean error, nothing
written), or the generated package is imported (Python) / compiled and loaded by node
(TypeScript) and the marker never appears. Then: outputs that are not ours are never
replaced without --force, and malformed input (wrong types, deep nesting, huge integers,
``version: -1``) is always exit 2, never ``Error: unexpected``.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from aster_core.testing import assert_clean_error

from tests.support.server import start_server

from .conftest import SERVICES, aster
from .test_codegen import TS_DIR

INVENTORY = f"{SERVICES}.shop:Inventory"


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict[str, Any]:
    """A real manifest of Inventory (unary, streams, nested messages, an enum)."""
    path = tmp_path_factory.mktemp("good") / "manifest.json"
    done = aster("contract", "gen", "--service", INVENTORY, "--out", str(path))
    assert done.returncode == 0, done.stderr
    return json.loads(path.read_text())


def _table(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["methods"][0]["types"]


def _entry(doc: dict[str, Any], tag: str) -> dict[str, Any]:
    return next(t for t in _table(doc) if t["wire_tag"] == tag)


def _method(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in doc["methods"] if m["name"] == name)


def _py_payload(mark: Path) -> str:
    return f"__import__('pathlib').Path({str(mark)!r}).write_text('pwned')"


def _ts_payload(mark: Path) -> str:
    return f"import('node:fs').then((f: any) => f.writeFileSync({json.dumps(str(mark))}, 'pwned'))"


def _breakouts(code: str) -> list[str]:
    """``code`` wrapped to escape every kind of context it might be pasted into."""
    return [f'"""; {code}; """', f"'); {code}; ('", f'"); {code}; ("', f"*/ {code}; /*",
            f"` */ {code}; /* `", f"\\'; {code} #"]


def _write(workdir: Path, doc: Any, name: str = "hostile.json") -> Path:
    path = workdir / name
    path.write_text(json.dumps(doc))
    return path


def _import_python(gen: Path, package: str, check: str = "") -> subprocess.CompletedProcess:
    script = f"import {package}, {package}.types, {package}.services\n{check}"
    return subprocess.run([sys.executable, "-c", script], cwd=gen, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(gen)})


# ── Python: strings are escaped ─────────────────────────────────────────────────


def _hostile_strings(doc: dict[str, Any], text: str) -> dict[str, Any]:
    """``text`` in every string of the contract that is not an identifier."""
    doc = copy.deepcopy(doc)
    money = _entry(doc, "shop/Money")
    money["wire_tag"], money["namespace"], money["typename"] = "shop/Money" + text, text, "Money" + text
    for f in money["fields"]:
        f["default_value"] = text           # a string default of a str field, and of an int field
    color = _entry(doc, "shop/Color")
    color["base"] = "str"
    for v in color["values"]:
        v["value"] = text + v["name"]
    for m in doc["methods"]:
        for f in m["fields"]:
            if f["kind"] == "bytes":
                f["default_value"] = text
    doc["semver"] = doc["vcs_url"] = doc["changelog"] = text
    return doc


def test_strings_from_a_manifest_cannot_run_code_in_a_python_client(workdir, good):
    mark = workdir / "PWNED"
    for n, text in enumerate(_breakouts(_py_payload(mark))):
        doc = _hostile_strings(good, text)
        gen = workdir / f"gen{n}"
        done = aster("contract", "gen-client", str(_write(workdir, doc)), "--out", str(gen), "--package", "evil")
        assert done.returncode == 0, done.stderr
        check = ("from evil.types import Money, Color\n"
                 f"assert Money.__wire_type__ == {('shop/Money' + text)!r}, Money.__wire_type__\n"
                 f"assert Money.__fory_namespace__ == {text!r}\n"
                 f"assert Money().currency == {text!r} and Money().cents == 0\n"
                 f"assert {{c.value for c in Color}} == {{{(text + 'RED')!r}, {(text + 'GREEN')!r}, {(text + 'BLUE')!r}}}\n")
        imported = _import_python(gen, "evil", check)
        assert imported.returncode == 0, imported.stderr[-2000:]
        assert not mark.exists(), f"payload {text!r} ran"


def test_an_export_and_an_imported_contract_are_escaped_too(workdir, good, aster_env):
    mark = workdir / "PWNED"
    text = _breakouts(_py_payload(mark))[0]
    manifest = _write(workdir, _hostile_strings(good, text), "m.json")
    assert aster("contract", "export", "--manifest", str(manifest), "-o", str(workdir / "e")).returncode == 0
    export = workdir / "e/Inventory.aster.json"
    assert aster("contract", "import", str(export)).returncode == 0
    for n, source in enumerate((export, next((aster_env / "contracts/Inventory").iterdir()))):
        done = aster("contract", "gen-client", str(source), "--out", str(workdir / f"g{n}"), "--package", "evil")
        assert done.returncode == 0, done.stderr
        assert _import_python(workdir / f"g{n}", "evil").returncode == 0
    assert not mark.exists()


# ── Python: names must be identifiers ─────────────────────────────────────────────


def _rename_method(doc, text):
    _method(doc, "get_item")["name"] = text


def _rename_service(doc, text):
    doc["service"] = text


def _rename_type(doc, text):
    _entry(doc, "shop/Money")["name"] = text


def _rename_root(doc, text):
    _method(doc, "get_item")["request_type"] = text   # GetItem is described by its method alone


def _rename_field(doc, text):
    _entry(doc, "shop/Money")["fields"][0]["name"] = text


def _rename_request_field(doc, text):
    _method(doc, "get_item")["fields"][0]["name"] = text


def _rename_enum_member(doc, text):
    _entry(doc, "shop/Color")["values"][0]["name"] = text


NAMES: dict[str, Callable[[dict, str], None]] = {
    "method": _rename_method, "service": _rename_service, "type": _rename_type, "root type": _rename_root,
    "field": _rename_field, "request field": _rename_request_field, "enum member": _rename_enum_member,
}


@pytest.mark.parametrize("where", sorted(NAMES))
def test_names_that_are_not_identifiers_are_refused_and_nothing_is_written(workdir, good, where):
    mark = workdir / "PWNED"
    code = _py_payload(mark)
    for text in [f"x(self): {code}\n    def y", f"x = {code}; y", "class", "__init__", "a b", "ÿ", "9lives"]:
        doc = copy.deepcopy(good)
        NAMES[where](doc, text)
        gen = workdir / "gen"
        done = aster("contract", "gen-client", str(_write(workdir, doc)), "--out", str(gen), "--package", "evil")
        if "\n" in text:   # a control character is already refused when the manifest is read
            assert_clean_error(done, 2, "printable characters")
        else:
            assert_clean_error(done, 2, "Hint: only plain identifiers")
        assert not gen.exists() and not mark.exists()


def test_names_that_would_shadow_the_generated_code_are_refused(workdir, good):
    cases = [(_rename_method, "connect"), (_rename_method, "close"), (_rename_type, "Optional"),
             (_rename_type, "InventoryClient"), (_rename_field, "field"), (_rename_enum_member, "_ignore_"),
             (_rename_type, "Money.__x")]
    for rename, text in cases:
        doc = copy.deepcopy(good)
        rename(doc, text)
        done = aster("contract", "gen-client", str(_write(workdir, doc)), "--out", str(workdir / "gen"))
        assert_clean_error(done, 2)
        assert not (workdir / "gen").exists()


def test_dotted_names_of_nested_classes_still_generate(workdir, good):
    doc = copy.deepcopy(good)
    _entry(doc, "shop/Money")["name"] = "Shop.Money"
    doc["service"] = "acme.Inventory"
    done = aster("contract", "gen-client", str(_write(workdir, doc)), "--out", str(workdir / "gen"),
                 "--package", "ok")
    assert done.returncode == 0, done.stderr
    assert _import_python(workdir / "gen", "ok", "from ok import Shop_Money, acme_InventoryClient").returncode == 0


# ── TypeScript: compiled and loaded by node ───────────────────────────────────────


@pytest.fixture(scope="module")
def tsc() -> Path:
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node/npm are not installed")
    binary = TS_DIR / "node_modules/.bin/tsc"
    if not binary.exists():
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=TS_DIR, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    return binary


def _compile_and_load(tsc: Path, where: Path, package: str) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """tsc --strict over the package (emitting JS even on type errors), then node imports it."""
    (where / "tsconfig.json").write_text(json.dumps({
        "compilerOptions": {"strict": True, "target": "ES2022", "module": "ES2022", "moduleResolution": "bundler",
                            "lib": ["ES2022"], "types": [], "outDir": "js",
                            "paths": {"@aster-rpc/aster": [str(TS_DIR / "aster-rpc-aster.d.ts")]}},
        "files": [str(TS_DIR / "aster-rpc-aster.d.ts"), f"{package}/index.ts"]}))
    compiled = subprocess.run([str(tsc), "-p", str(where / "tsconfig.json")], cwd=where, capture_output=True,
                              text=True, timeout=180)
    (where / "js/package.json").write_text('{"type": "module"}')
    index = next((where / "js").rglob("index.js"))
    loaded = subprocess.run(["node", "--input-type=module", "-e",
                             f"await import({json.dumps(str(index))}); await new Promise(r => setTimeout(r, 200));"],
                            cwd=where, capture_output=True, text=True, timeout=60)
    return compiled, loaded


@pytest.mark.slow
def test_strings_from_a_manifest_cannot_run_code_in_a_typescript_client(workdir, good, tsc):
    mark = workdir / "PWNED"
    payloads = _breakouts(_ts_payload(mark)) + [f"\\u2028 */ {_ts_payload(mark)}; /*"]
    for n, text in enumerate(payloads):
        doc = _hostile_strings(good, text)
        for f in _entry(doc, "shop/Money" + text)["fields"]:   # TypeScript quotes a property name that is not an identifier
            f["name"] = text + f["name"]
        out = workdir / f"ts{n}"
        done = aster("contract", "gen-client", str(_write(workdir, doc)), "--lang", "typescript", "--out", str(out),
                     "--package", "evil")
        assert done.returncode == 0, done.stderr
        compiled, loaded = _compile_and_load(tsc, out, "evil")
        assert compiled.returncode == 0, compiled.stdout[-3000:]   # a payload outside a literal or comment fails here
        assert loaded.returncode == 0, loaded.stderr[-2000:]
        assert not mark.exists(), f"payload {text!r} ran"


def test_typescript_reserved_words_are_refused(workdir, good):
    for rename, text in ((_rename_type, "class"), (_rename_type, "Promise"), (_rename_method, "constructor"),
                         (_rename_method, "a-b")):
        doc = copy.deepcopy(good)
        rename(doc, text)
        done = aster("contract", "gen-client", str(_write(workdir, doc)), "--lang", "typescript",
                     "--out", str(workdir / "ts"))
        assert_clean_error(done, 2, "Hint: only plain identifiers")
        assert not (workdir / "ts").exists()


# ── a live producer ─────────────────────────────────────────────────────────────

EVIL_SERVICE = '''
from dataclasses import dataclass
from aster import rpc, service, wire_type

@wire_type({tag!r})
@dataclass
class Req:
    text: str = {default!r}

@wire_type("evil/Resp")
@dataclass
class Resp:
    ok: bool = True

@service(name="Evil", version=1)
class Evil:
    @rpc
    async def ping(self, request: Req) -> Resp:
        return Resp()

@service(name={name!r}, version=1)
class Named:
    @rpc
    async def ping(self, request: Req) -> Resp:
        return Resp()
'''


def test_a_live_producers_manifest_cannot_run_code(workdir):
    mark = workdir / "PWNED"
    text = _breakouts(_py_payload(mark))[0]
    (workdir / "evil_service.py").write_text(EVIL_SERVICE.format(tag="evil/Req" + text, default=text,
                                                                 name="Named" + text))
    with start_server(["evil_service:Evil", "evil_service:Named"], workdir=workdir, max_lifetime=120) as live:
        done = aster("contract", "gen-client", live.address, "--service", "Evil", "--out", str(workdir / "gen"),
                     "--package", "evil", process=True)
        assert done.returncode == 0, done.stderr
        refused = aster("contract", "gen-client", live.address, "--out", str(workdir / "gen2"), process=True)
    assert_clean_error(refused, 2, "service", "Hint: only plain identifiers")
    assert not (workdir / "gen2").exists()
    check = (f"from evil import Req\nassert Req.__wire_type__ == {('evil/Req' + text)!r}\n"
             f"assert Req().text == {text!r}\n")
    imported = _import_python(workdir / "gen", "evil", check)
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert not mark.exists()


# ── outputs that are not ours ─────────────────────────────────────────────────────

KEY = '{"private_key": "c2VjcmV0", "public_key": "cHVibGlj"}\n'


def test_gen_never_replaces_a_file_that_is_not_a_manifest(workdir):
    key = workdir / "root.key"
    key.write_text(KEY)
    done = aster("contract", "gen", "--service", INVENTORY, "--out", str(key))
    assert_clean_error(done, 2, "is not a contract manifest", "--force")
    assert key.read_text() == KEY
    link = workdir / "manifest-link.json"
    link.symlink_to(key)
    assert_clean_error(aster("contract", "gen", "--service", INVENTORY, "--out", str(link)), 2, "--force")
    assert key.read_text() == KEY
    # our own manifest is regenerated in place; --force replaces anything
    ours = workdir / ".aster/manifest.json"
    assert aster("contract", "gen", "--service", INVENTORY, "--out", str(ours)).returncode == 0
    assert aster("contract", "gen", "--service", INVENTORY, "--out", str(ours)).returncode == 0
    assert aster("contract", "gen", "--service", INVENTORY, "--out", str(key), "--force").returncode == 0
    assert json.loads(key.read_text())["service"] == "Inventory"


def test_export_never_replaces_a_file_that_is_not_an_export(workdir, good):
    manifest = _write(workdir, good, "m.json")
    out = workdir / "exports"
    out.mkdir()
    mine = out / "Inventory.aster.json"
    mine.write_text("my notes\n")
    done = aster("contract", "export", "--manifest", str(manifest), "-o", str(out))
    assert_clean_error(done, 2, "is not a contract export", "--force")
    assert mine.read_text() == "my notes\n"
    assert aster("contract", "export", "--manifest", str(manifest), "-o", str(out), "--force").returncode == 0
    assert json.loads(mine.read_text())["aster_contract"] == "1"
    assert aster("contract", "export", "--manifest", str(manifest), "-o", str(out)).returncode == 0


def test_gen_client_never_replaces_a_directory_it_did_not_write(workdir, good):
    manifest = _write(workdir, good, "m.json")
    gen = workdir / "gen"
    assert aster("contract", "gen-client", str(manifest), "--out", str(gen)).returncode == 0
    package = gen / "inventory_client"
    assert json.loads((package / ".aster-generated.json").read_text())["files"] == [
        "__init__.py", "services.py", "types.py"]
    # a file the user added makes the package theirs
    (package / "notes.md").write_text("mine")
    done = aster("contract", "gen-client", str(manifest), "--out", str(gen))
    assert_clean_error(done, 2, "was not generated by aster", "--force")
    assert (package / "notes.md").read_text() == "mine"
    # a plain file where the package would go
    (workdir / "gen2").mkdir()
    (workdir / "gen2/inventory_client").write_text("a file")
    assert_clean_error(aster("contract", "gen-client", str(manifest), "--out", str(workdir / "gen2")), 2, "--force")
    assert (workdir / "gen2/inventory_client").read_text() == "a file"
    assert aster("contract", "gen-client", str(manifest), "--out", str(gen), "--force").returncode == 0
    assert not (package / "notes.md").exists() and (package / "services.py").is_file()
    assert sorted(p.name for p in gen.iterdir()) == ["inventory_client"]


def test_package_names_cannot_leave_the_output_directory(workdir, good):
    manifest = _write(workdir, good, "m.json")
    for lang, package in (("typescript", ".."), ("typescript", "../up"), ("typescript", ".hidden"),
                          ("python", "class"), ("python", "a.b")):
        done = aster("contract", "gen-client", str(manifest), "--lang", lang, "--out", str(workdir / "gen"),
                     "--package", package)
        assert_clean_error(done, 2, "--package")
    assert not (workdir / "gen").exists() and sorted(p.name for p in workdir.iterdir()) == ["m.json"]


# ── malformed input is exit 2 ───────────────────────────────────────────────────


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def apply(doc: dict) -> None:
        target: Any = doc
        keys = path.split(".")
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        last = keys[-1]
        target[int(last) if last.isdigit() else last] = value
    return apply


WRONG = {
    "version -1": _set("version", -1),
    "version as text": _set("version", "1"),
    "version true": _set("version", True),
    "version 10**30": _set("version", 10**30),
    "methods as text": _set("methods", "get_item"),
    "a method that is a number": _set("methods.0", 7),
    "method name null": _set("methods.0.name", None),
    "pattern 3": _set("methods.0.pattern", 3),
    "timeout as text": _set("methods.0.timeout", "1)"),
    "timeout negative": _set("methods.0.timeout", -5),
    "idempotent as text": _set("methods.0.idempotent", "yes"),
    "fields as object": _set("methods.0.fields", {}),
    "field kind 5": _set("methods.0.fields.0.kind", 5),
    "field name list": _set("methods.0.fields.0.name", ["x"]),
    "field default object": _set("methods.0.fields.0.default_value", {"a": 1}),
    "field default huge": _set("methods.0.fields.0.default_value", 10**40),
    "types as text": _set("methods.0.types", "all"),
    "type wire tag 5": _set("methods.0.types.0.wire_tag", 5),
    "enum value object": lambda d: _entry(d, "shop/Color")["values"].__setitem__(0, {"name": "RED", "value": {}}),
    "int enum with text values": lambda d: _entry(d, "shop/Color")["values"][0].__setitem__("value", "red"),
    "scoped 1": _set("scoped", 1),
    "serialization mode code": _set("serialization_modes", ["xlang]); import os #"]),
    "deprecated as text": _set("deprecated", "no"),
    "type hashes of numbers": _set("type_hashes", [1]),
    "contract id injection": _set("contract_id", "0' + __import__('os').getcwd() + '"),
}


@pytest.mark.parametrize("case", sorted(WRONG))
def test_wrong_field_types_are_exit_2_everywhere(workdir, good, case):
    doc = copy.deepcopy(good)
    WRONG[case](doc)
    bad = _write(workdir, doc)
    assert_clean_error(aster("contract", "gen-client", str(bad), "--out", str(workdir / "gen")), 2)
    assert_clean_error(aster("contract", "export", "--manifest", str(bad), "-o", str(workdir / "e")), 2)
    assert_clean_error(aster("contract", "diff", str(bad), str(bad)), 2)
    assert not (workdir / "gen").exists() and not (workdir / "e").exists()


def test_deep_nesting_and_huge_numbers_are_exit_2(workdir, good):
    text = json.dumps(good)
    field_default = '"default_value": ' + json.dumps(good["methods"][0]["fields"][0].get("default_value"))
    assert field_default in text
    documents = {
        "deep.json": text.replace(field_default, '"default_value": ' + "[" * 1000 + "]" * 1000, 1),
        "deeper.json": "[" * 100000 + "]" * 100000,
        "digits.json": text.replace('"version": 1', '"version": 1' + "0" * 5000, 1),
        "infinite.json": text.replace('"type_count": ', '"type_count": 1e999, "x": ', 1),
        "nan.json": text.replace('"version": 1', '"version": NaN', 1),
    }
    for name, body in documents.items():
        path = workdir / name
        path.write_text(body)
        for args in (("gen-client", str(path), "--out", str(workdir / "gen")), ("diff", str(path), str(path)),
                     ("preview", "--manifest", str(path)), ("import", str(path)),
                     ("export", "--manifest", str(path), "-o", str(workdir / "e"))):
            done = aster("contract", *args)
            line = assert_clean_error(done, 2)
            assert "unexpected" not in line, line
    assert not (workdir / "gen").exists() and not (workdir / "e").exists()


def test_a_deeply_nested_export_is_refused_by_import(workdir, good, aster_env):
    manifest = _write(workdir, good, "m.json")
    assert aster("contract", "export", "--manifest", str(manifest), "-o", str(workdir / "e")).returncode == 0
    export = workdir / "e/Inventory.aster.json"
    doc = json.loads(export.read_text())
    doc["methods"][0]["types"][0]["fields"][0]["properties"] = json.loads("[" * 900 + "]" * 900)
    export.write_text(json.dumps(doc))
    assert_clean_error(aster("contract", "import", str(export)), 2, "properties must be an object")
    assert not (aster_env / "contracts").exists()


def test_a_service_with_a_negative_version_is_refused_by_gen(workdir):
    (workdir / "negative.py").write_text(
        "from dataclasses import dataclass\nfrom aster import rpc, service, wire_type\n"
        "@wire_type('n/R')\n@dataclass\nclass R:\n    x: int = 0\n"
        "@service(name='Neg', version=-1)\nclass Neg:\n    @rpc\n    async def f(self, request: R) -> R:\n"
        "        return request\n")
    done = aster("contract", "gen", "--service", "negative:Neg", "--out", str(workdir / "m.json"), cwd=workdir)
    assert_clean_error(done, 2, "version -1")
    assert not (workdir / "m.json").exists()


def test_gen_client_timeout_must_be_a_number_of_seconds(workdir, good):
    manifest = _write(workdir, good, "m.json")
    for value in ("inf", "nan", "0", "-1"):
        done = aster("contract", "gen-client", str(manifest), "--out", str(workdir / "gen"), "--timeout", value)
        assert_clean_error(done, 2, "--timeout")
    assert not (workdir / "gen").exists()

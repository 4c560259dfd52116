"""The 0.1.2 lines whose effect is a file, run by the released aster-cli 0.1.2 (in a venv of its own,
:func:`tests.support.released.released_cli`) and by ours on the same inputs: what each wrote is
compared. Equal where the format is the runtime's; where they differ, the difference is the one
docs/migrating-from-0.1.2.md lists (and the assertion says which).

0.1.2 runs with a home of its own and no keyring backend (``HOME``: it always uses ``~/.aster``),
as on a headless machine; ours with its test home and file keyring.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.released import released_cli

from .lines import EID, REPO, SERVICE, Workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def old_aster() -> Path:
    return released_cli()


class Pair:
    """Two folders with the same inputs: ``old`` for 0.1.2, ``new`` (a Workspace) for ours."""

    def __init__(self, base: Path, script: Path):
        self.new = Workspace(base / "ours")
        self.old = base / "released" / "work"
        self.old_home = base / "released" / "home"
        self.old.mkdir(parents=True)
        self.old_home.mkdir()
        self.script = script
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ASTER_", "VIRTUAL_ENV", "PYTHON"))}
        env.update({"HOME": str(self.old_home), "ASTER_RELAY_MODE": "disabled", "NO_COLOR": "1",
                    "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", "PYTHONPATH": str(REPO)})
        self.old_env = env
        self.new.env["PYTHONPATH"] = str(REPO)

    def both(self, *argv: str, code: int = 0, old_may_hang: bool = False) -> bool:
        """Run ``argv`` with 0.1.2 and with ours; both must exit ``code``. With ``old_may_hang``,
        0.1.2 gets 20 s and False is returned if it did not finish (ours must still)."""
        new = self.new.aster(*argv)
        assert new.returncode == code, ("ours", argv, new.stdout, new.stderr)
        try:
            old = subprocess.run([str(self.script), *argv], cwd=self.old, env=self.old_env, capture_output=True,
                                 text=True, timeout=20 if old_may_hang else 120)
        except subprocess.TimeoutExpired:
            if old_may_hang:
                return False
            raise
        assert old.returncode == code, ("0.1.2", argv, old.stdout, old.stderr[-2000:])
        return True

    def share(self, name: str) -> None:
        """Give 0.1.2 the file ``name`` ours has (the same root key on both sides)."""
        shutil.copy(self.new.dir / name, self.old / name)

    def json(self, name: str) -> tuple[dict, dict]:
        return json.loads((self.old / name).read_text()), self.new.json(name)


@pytest.fixture
def pair(tmp_path, old_aster) -> Iterator[Pair]:
    yield Pair(tmp_path, old_aster)


def _valid_pair(path: Path) -> bytes:
    from aster_trust.keys import load_root_key_file

    return load_root_key_file(path).public_key


def test_keygen_root_writes_the_same_key_file(pair):
    pair.both("keygen", "root", "--out", "root.key")
    old, new = pair.json("root.key")
    assert set(old) == set(new) == {"private_key", "public_key"}
    assert _valid_pair(pair.old / "root.key") and _valid_pair(pair.new.dir / "root.key")
    from aster_trust.keys import load_public_key

    # the public key file: 0.1.2 writes {"public_key": ...}, ours the bare hex; the runtime (and we) read both
    assert json.loads((pair.old / "root.pub").read_text()) == {"public_key": old["public_key"]}
    assert (pair.new.dir / "root.pub").read_text().strip() == new["public_key"]
    assert load_public_key(str(pair.old / "root.pub")).hex() == old["public_key"]
    # ours made the profile holding the same key in the keyring (0.1.2 had no keyring here)
    assert pair.new.profiles()["default"]["root_pubkey"] == new["public_key"]


def test_trust_keygen_out_key_writes_the_same_key_file(pair):
    pair.both("trust", "keygen", "--out-key", "keys/root.key")
    old, new = pair.json("keys/root.key")
    assert set(old) == set(new) == {"private_key", "public_key"}
    assert _valid_pair(pair.old / "keys/root.key") and _valid_pair(pair.new.dir / "keys/root.key")


def test_keygen_producer_writes_the_same_node_key_file(pair):
    from aster_trust.keys import public_key_of

    # 0.1.2 starts a network endpoint to learn the node id and hangs without one (a known bug of
    # it); ours computes the id offline. When 0.1.2 does finish, both files are compared.
    finished = pair.both("keygen", "producer", "--out", "node.key", old_may_hang=True)
    docs = pair.json("node.key") if finished else (pair.new.json("node.key"),)
    for doc in docs:
        assert set(doc) == {"secret_key", "node_id"}
        assert public_key_of(bytes.fromhex(doc["secret_key"])).hex() == doc["node_id"]


@pytest.mark.parametrize("argv", [
    ("trust", "sign", "--root-key", "root.key", "--endpoint-id", EID, "--expires", "2030-01-01T00:00:00Z",
     "--out", "cred.json"),
    ("trust", "sign", "--root-key", "root.key", "--type", "policy", "--attributes", '{"aster.role":"reader"}',
     "--expires", "2030-01-01T00:00:00Z", "--out", "cred.json"),
    ("trust", "sign", "--root-key", "root.key", "--type", "policy", "--endpoint-id", EID,
     "--expires", "2030-01-01T00:00:00+00:00", "--out", "cred.json"),
    ("authorize", "--root-key", "root.key", "--producer-id", EID, "--attributes", '{"aster.role":"producer"}',
     "--expires", "2030-01-01T00:00:00Z", "--out", "cred.json"),
], ids=["sign-producer", "sign-policy", "sign-policy-bound", "authorize"])
def test_signed_credentials_are_byte_for_byte_the_same(pair, argv):
    """ed25519 is deterministic: the same key, type, binding, expiry and attributes sign the same bytes."""
    pair.new.ok("trust", "keygen", "root", "--out", "root.key")
    pair.share("root.key")
    pair.both(*argv)
    old, new = pair.json("cred.json")
    assert old == new


def test_ott_credentials_have_the_same_form_and_both_verify(pair):
    pair.new.ok("trust", "keygen", "root", "--out", "root.key")
    pair.share("root.key")
    pair.both("trust", "sign", "--root-key", "root.key", "--type", "ott", "--expires", "2030-01-01T00:00:00Z")
    old, new = pair.json(".aster/credential.json")  # 0.1.2's default --out, on both sides
    assert set(old) == set(new) and old["type"] == new["type"] == "ott"
    assert len(old["nonce"]) == len(new["nonce"]) == 64 and old["nonce"] != new["nonce"]
    shutil.copy(pair.old / ".aster/credential.json", pair.new.dir / "old.json")
    for name in ("old.json", ".aster/credential.json"):
        pair.new.ok("trust", "verify", name, "--root-pubkey", new["root_pubkey"])


def test_enroll_node_writes_the_same_identity_layout(pair):
    pair.new.ok("trust", "keygen", "root", "--out", "root.key")
    pair.share("root.key")
    pair.both("enroll", "node", "-r", "consumer", "-n", "laptop", "-a", "team=a", "-e", "2030-01-01T00:00:00Z",
              "--root-key", "root.key", "-o", "laptop.id", "-q")
    old = tomllib.loads((pair.old / "laptop.id").read_text())
    new = pair.new.toml("laptop.id")
    assert set(old) == set(new) == {"node", "peers"}
    assert set(old["node"]) == set(new["node"]) == {"secret_key", "endpoint_id"}
    old_peer, new_peer = old["peers"][0], new["peers"][0]
    assert set(old_peer) == set(new_peer)
    for field in ("name", "role", "type", "root_pubkey", "expires_at"):
        assert old_peer[field] == new_peer[field], field
    # the fixed bug: 0.1.2 signs aster.role but leaves it out of the file, so its signature never verifies
    assert old_peer["attributes"] == {"team": "a"} and new_peer["attributes"] == {"team": "a", "aster.role": "consumer"}
    shutil.copy(pair.old / "laptop.id", pair.new.dir / "old.id")
    verdict = {name: json.loads(pair.new.ok("trust", "inspect", name, "--peer", "laptop", "--json").stdout)
               for name in ("old.id", "laptop.id")}
    assert verdict["laptop.id"]["signature_valid"] and not verdict["old.id"]["signature_valid"]


def test_contract_export_without_out_writes_the_same_file_here(pair):
    pair.both("contract", "gen", "--service", SERVICE)
    pair.both("contract", "export")
    old, new = pair.json("Inventory.aster.json")
    assert old["contract_id"] == new["contract_id"] and old["contract_id"].startswith("blake3:")
    assert set(old) == set(new)
    for field in ("aster_contract", "service", "version", "type_count", "method_count", "type_hashes", "scoped"):
        assert old[field] == new[field], field
    assert [m["name"] for m in old["methods"]] == [m["name"] for m in new["methods"]]


def test_contract_gen_client_writes_a_python_package(pair):
    pair.both("contract", "gen", "--service", SERVICE)
    pair.both("contract", "gen-client", ".aster/manifest.json", "--out", "clients", "--lang", "python",
              "--package", "inventory_client")
    for folder in (pair.old, pair.new.dir):
        package = folder / "clients" / "inventory_client"
        assert (package / "__init__.py").is_file(), sorted(p.name for p in (folder / "clients").rglob("*"))
        assert "Inventory" in "".join(p.read_text() for p in package.rglob("*.py"))


def test_init_ai_writes_a_guide_and_links_it(pair):
    (pair.old / "AGENTS.md").write_text("# Agents\n")
    (pair.new.dir / "AGENTS.md").write_text("# Agents\n")
    pair.both("init", "--ai")
    for folder in (pair.old, pair.new.dir):
        assert (folder / "AGENTS_aster.md").read_text().strip()
        index = (folder / "AGENTS.md").read_text()
        assert index.startswith("# Agents\n") and index.count("AGENTS_aster.md") == 1
    # the guide is each tool's own text: ours describes this command line
    assert "aster contract diff" in (pair.new.dir / "AGENTS_aster.md").read_text()

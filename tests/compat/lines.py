"""Every command line of the released aster-cli 0.1.2's ``--help``, as a table: what it runs on
ours, the exit code it must give, and the effect to check. The tests in this folder run them.

Each :class:`Line` starts from a fresh workspace (``Workspace``: a folder, a home, a file
keyring) prepared by the named ``setup`` steps, runs ``argv`` on our ``aster`` and hands the
result to ``check``. Where 0.1.2 behaved differently, ``note`` says how and why (the same
differences are listed in docs/migrating-from-0.1.2.md).
"""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path
from typing import Callable, NamedTuple

from aster_core.testing import invoke, isolated_env

REPO = Path(__file__).resolve().parents[2]
SERVICE = "tests.contract.services.shop:Inventory"
SERVICE_V2 = "tests.contract.services.shop_v2:Inventory"
EID = "ab" * 32
#: 2030-01-01T00:00:00Z, the ISO expiry the lines below give
Y2030 = 1893456000


class Workspace:
    """A folder to run in, with its own home and file keyring."""

    def __init__(self, base: Path):
        self.dir = base / "work"
        self.dir.mkdir(parents=True)
        self.env = isolated_env(base)
        self.home = Path(self.env["ASTER_HOME"])

    def aster(self, *argv: str, input: str | None = None) -> subprocess.CompletedProcess:
        return invoke(list(argv), env=self.env, cwd=self.dir, input=input)

    def ok(self, *argv: str) -> subprocess.CompletedProcess:
        done = self.aster(*argv)
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
        return done

    def json(self, name: str | Path) -> dict:
        return json.loads((self.dir / name).read_text())

    def toml(self, name: str | Path) -> dict:
        return tomllib.loads((self.dir / name).read_text())

    def profiles(self) -> dict:
        path = self.home / "config.toml"
        return tomllib.loads(path.read_text()).get("profiles", {}) if path.exists() else {}


SETUP: dict[str, Callable[[Workspace], object]] = {
    "profile": lambda w: w.ok("profile", "create", "prod"),
    "rootkey": lambda w: w.ok("trust", "keygen", "root", "--out", "root.key"),
    "manifest": lambda w: w.ok("contract", "gen", "--service", SERVICE),
    "export": lambda w: w.ok("contract", "export", "-o", "exports"),
    "identity": lambda w: w.ok("enroll", "node", "--role", "consumer", "--root-key", "root.key", "-q"),
    "again": lambda w: (w.dir / "again.key").write_text("{}"),
    "own_guide": lambda w: (w.dir / "AGENTS_aster.md").write_text("# our team's own notes\n"),
}


class Line(NamedTuple):
    argv: tuple[str, ...]
    code: int = 0
    setup: tuple[str, ...] = ()
    check: Callable[[Workspace, subprocess.CompletedProcess], None] | None = None
    input: str | None = None
    note: str = ""
    env: dict[str, str] | None = None       #: on top of the workspace's environment

    @property
    def id(self) -> str:
        return " ".join(self.argv) or "(none)"


# -- checks of what a line did ----------------------------------------------------------------


def key_pair(path: str, pub: str | None = None) -> Callable:
    """A root key pair file (0.1.2's format) and, when named, its public key beside it."""
    def check(w: Workspace, _: subprocess.CompletedProcess) -> None:
        from aster_trust.keys import load_public_key, load_root_key_file

        target = w.dir / path
        assert oct(target.stat().st_mode & 0o777) == "0o600"
        doc = json.loads(target.read_text())
        assert set(doc) == {"private_key", "public_key"}
        key = load_root_key_file(target)
        if pub:
            assert load_public_key(str(w.dir / pub)) == key.public_key
    return check


def profile_key(name: str, path: str) -> Callable:
    """The profile exists, its key is in the keyring, and the backup file holds the same key."""
    def check(w: Workspace, done: subprocess.CompletedProcess) -> None:
        key_pair(path, str(Path(path).with_suffix(".pub")))(w, done)
        stored = w.profiles()[name]["root_pubkey"]
        assert stored == w.json(path)["public_key"]
        listed = json.loads(w.ok("profile", "show", name, "--json").stdout)
        assert listed["root_pubkey"] == stored
    return check


def node_key(path: str) -> Callable:
    def check(w: Workspace, _: subprocess.CompletedProcess) -> None:
        from aster_trust.keys import public_key_of

        doc = w.json(path)
        assert set(doc) == {"secret_key", "node_id"}
        assert public_key_of(bytes.fromhex(doc["secret_key"])).hex() == doc["node_id"]
        assert oct((w.dir / path).stat().st_mode & 0o777) == "0o600"
    return check


def credential(path: str, kind: str, *, attributes: dict | None = None, expires_at: int | None = None,
               endpoint_id: str | None = None) -> Callable:
    """A signed credential of ``kind`` that verifies against root.key's public key."""
    def check(w: Workspace, _: subprocess.CompletedProcess) -> None:
        doc = w.json(path)
        assert doc["type"] == kind
        if attributes is not None:
            assert doc["attributes"] == attributes
        if expires_at is not None:
            assert doc["expires_at"] == expires_at
        if endpoint_id is not None:
            assert doc["endpoint_id"] == endpoint_id
        assert (doc.get("nonce") is not None) == (kind == "ott")
        done = w.aster("trust", "verify", path, "--root-pubkey", w.json("root.key")["public_key"])
        assert done.returncode == 0, done.stderr
    return check


def identity(path: str, *, name: str, role: str, kind: str, attributes: dict) -> Callable:
    def check(w: Workspace, done: subprocess.CompletedProcess) -> None:
        doc = w.toml(path)
        peer = next(p for p in doc["peers"] if p["name"] == name)
        assert (peer["role"], peer["type"]) == (role, kind)
        assert peer["attributes"] == attributes
        assert peer["endpoint_id"] == doc["node"]["endpoint_id"]
        assert ("nonce" in peer) == (kind == "ott")
        inspected = w.aster("trust", "inspect", path, "--peer", name, "--json")
        assert json.loads(inspected.stdout)["signature_valid"] is True
    return check


def quiet_line(path: str) -> Callable:
    """``-q``: one line ``PATH ENDPOINT_ID EXPIRES``."""
    def check(w: Workspace, done: subprocess.CompletedProcess) -> None:
        words = done.stdout.split()
        assert len(words) == 3 and words[0] == path and len(words[1]) == 64, done.stdout
    return check


def files(*paths: str) -> Callable:
    def check(w: Workspace, _: subprocess.CompletedProcess) -> None:
        for path in paths:
            assert (w.dir / path).is_file(), path
    return check


def both(*checks: Callable) -> Callable:
    def check(w: Workspace, done: subprocess.CompletedProcess) -> None:
        for one in checks:
            one(w, done)
    return check


def manifest_semver(path: str, semver: str) -> Callable:
    def check(w: Workspace, _: subprocess.CompletedProcess) -> None:
        assert w.json(path)["semver"] == semver
    return check


def export_of(path: str) -> Callable:
    def check(w: Workspace, _: subprocess.CompletedProcess) -> None:
        doc = w.json(path)
        assert doc["aster_contract"] == "1" and doc["service"] == "Inventory"
        assert doc["contract_id"] == "blake3:" + w.json(".aster/manifest.json")["contract_id"]
    return check


def agent_guide(folder: str, language: str) -> Callable:
    def check(w: Workspace, _: subprocess.CompletedProcess) -> None:
        guide = (w.dir / folder / "AGENTS_aster.md").read_text()
        assert "aster contract gen" in guide and f"--lang {language}" in guide
        assert "AGENTS_aster.md" in (w.dir / folder / "AGENTS.md").read_text()
    return check


def stdout_has(*needles: str) -> Callable:
    def check(w: Workspace, done: subprocess.CompletedProcess) -> None:
        for needle in needles:
            assert needle in done.stdout, (needle, done.stdout)
    return check


def stderr_has(*needles: str) -> Callable:
    def check(w: Workspace, done: subprocess.CompletedProcess) -> None:
        for needle in needles:
            assert needle in done.stderr, (needle, done.stderr)
    return check


def home_file(name: str) -> Callable:
    def check(w: Workspace, done: subprocess.CompletedProcess) -> None:
        assert (w.home / name).is_file(), name
    return check


def home_key_pair(w: Workspace, done: subprocess.CompletedProcess) -> None:
    from aster_trust.keys import load_public_key, load_root_key_file

    assert load_public_key(str(w.home / "root.pub")) == load_root_key_file(w.home / "root.key").public_key


def default_profile(w: Workspace, done: subprocess.CompletedProcess) -> None:
    home_key_pair(w, done)
    assert w.profiles()["default"]["root_pubkey"] == json.loads((w.home / "root.key").read_text())["public_key"]


def files_only(w: Workspace, done: subprocess.CompletedProcess) -> None:
    """No keyring: the key files are written, no profile is made, and stderr says so."""
    key_pair("root.key", "root.pub")(w, done)
    assert w.profiles() == {}
    assert "no profile was made" in done.stderr and "--root-key root.key" in done.stderr, done.stderr


def home_node_key(w: Workspace, done: subprocess.CompletedProcess) -> None:
    from aster_trust.keys import public_key_of

    doc = json.loads((w.home / "node.key").read_text())
    assert public_key_of(bytes.fromhex(doc["secret_key"])).hex() == doc["node_id"]


def profile_state(name: str, *, exists: bool = True, active: bool | None = None) -> Callable:
    def check(w: Workspace, _: subprocess.CompletedProcess) -> None:
        assert (name in w.profiles()) == exists
        if active is not None:
            config = tomllib.loads((w.home / "config.toml").read_text())
            assert (config.get("active_profile") == name) == active
    return check


CONSUMER_ATTRS = {"aster.role": "ops.status,ops.logs", "team": "ops", "tier": "gold"}
NO_DEMO = "0.1.2's --demo wrote local state no registry knows; ours refuses it (exit 2) and names the real flow"

#: Every line of 0.1.2's help that runs without a peer, in the help's order.
OFFLINE: list[Line] = [
    Line(("-h",), check=stdout_has("trust", "contract")),
    Line(("--version",), check=stdout_has("aster-core")),
    # contract
    Line(("contract", "gen", "--service", SERVICE), check=files(".aster/manifest.json")),
    Line(("contract", "gen", "--service", SERVICE, "--out", "m.json", "--semver", "1.2.3"),
         check=manifest_semver("m.json", "1.2.3")),
    Line(("contract", "gen", "--service", SERVICE, "--service", "tests.support.services:Greeter", "--out", "two.json"),
         check=files("two.json")),
    Line(("contract", "gen-client", ".aster/manifest.json", "--out", "gc", "--lang", "python"), setup=("manifest",),
         check=files("gc/inventory_client/__init__.py")),
    Line(("contract", "gen-client", "--out", "gc", "--package", "inv", "--lang", "typescript", ".aster/manifest.json"),
         setup=("manifest",), check=files("gc/inv/client.ts", "gc/inv/types.ts")),
    Line(("contract", "export"), setup=("manifest",), check=export_of("Inventory.aster.json"),
         note="0.1.2 wrote to the current folder without -o; so do we"),
    Line(("contract", "export", "--manifest", ".aster/manifest.json", "-o", "out"), setup=("manifest",),
         check=export_of("out/Inventory.aster.json")),
    Line(("contract", "export", "--out", "out2"), setup=("manifest",), check=export_of("out2/Inventory.aster.json")),
    Line(("contract", "import", "exports/Inventory.aster.json"), setup=("manifest", "export"),
         check=stdout_has("imported Inventory")),
    Line(("contract", "verify", "exports/Inventory.aster.json"), setup=("manifest", "export"), check=stdout_has("OK")),
    Line(("contract", "verify", "--manifest", ".aster/manifest.json", "exports/Inventory.aster.json"),
         setup=("manifest", "export"), check=stdout_has("OK")),
    # trust
    Line(("trust", "keygen"), check=home_key_pair, note="0.1.2 wrote ~/.aster/root.key; ours <home>/root.key"),
    Line(("trust", "keygen", "--out-key", "keys/root.key"), check=key_pair("keys/root.key", "keys/root.pub"),
         note="root.pub holds the bare hex key (0.1.2: JSON); the runtime reads both"),
    Line(("trust", "sign", "--root-key", "root.key", "--endpoint-id", EID, "--out", "producer.cred"), setup=("rootkey",),
         check=credential("producer.cred", "producer", endpoint_id=EID, attributes={})),
    Line(("trust", "sign", "--root-key", "root.key", "--endpoint-id", EID, "--attributes", '{"aster.role":"producer"}',
          "--expires", "2030-01-01T00:00:00Z", "--type", "producer", "--out", "p.cred"), setup=("rootkey",),
         check=credential("p.cred", "producer", attributes={"aster.role": "producer"}, expires_at=Y2030)),
    Line(("trust", "sign", "--root-key", "root.key", "--type", "policy", "--attributes", '{"aster.role":"reader"}',
          "--expires", "2030-01-01T00:00:00", "--out", "c.json"), setup=("rootkey",),
         check=credential("c.json", "policy", attributes={"aster.role": "reader"}, expires_at=Y2030),
         note="an ISO time without zone is UTC (0.1.2 read it as local time)"),
    Line(("trust", "sign", "--root-key", "root.key", "--type", "ott"), setup=("rootkey",),
         check=credential(".aster/credential.json", "ott"), note="0.1.2's default --out"),
    Line(("trust", "sign", "--root-key", "root.key", "--type", "policy", "--attributes", '{"n": 1}', "--out", "bad.json"),
         code=2, setup=("rootkey",), check=stderr_has("not a string"),
         note="0.1.2 signed a number, which the runtime cannot admit"),
    # keygen
    Line(("keygen", "root"), check=default_profile),
    Line(("keygen", "root", "--out", "keys/ops.key", "--profile", "ops"), check=profile_key("ops", "keys/ops.key")),
    Line(("keygen", "root", "--out", "ops2.key", "-p", "ops2"), check=profile_key("ops2", "ops2.key")),
    Line(("keygen", "root", "--out", "again.key", "-p", "prod"), setup=("profile",),
         check=profile_key("prod", "again.key"),
         note="an existing profile keeps its key and that key is written (0.1.2 replaced it silently)"),
    Line(("keygen", "root", "--out", "again.key", "-p", "prod"), code=2, setup=("profile", "again"),
         check=stderr_has("already exists"), note="the backup file must be new (0.1.2 kept the old file)"),
    Line(("keygen", "root", "--out", "root.key"), check=files_only,
         env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
         note="no keyring: the files only, and no profile whose private key is nowhere"),
    Line(("keygen", "producer"), check=home_node_key),
    Line(("keygen", "producer", "--out", "node.key"), check=node_key("node.key"),
         note="the node id is computed offline (0.1.2 started a network endpoint and hung offline)"),
    # profile
    Line(("profile", "list"), setup=("profile",), check=stdout_has("prod")),
    Line(("profile", "create", "dev"), check=profile_state("dev", active=True)),
    Line(("profile", "use", "prod"), setup=("profile",), check=profile_state("prod", active=True)),
    Line(("profile", "show"), setup=("profile",), check=stdout_has("prod")),
    Line(("profile", "show", "prod"), setup=("profile",), check=stdout_has("prod")),
    Line(("profile", "delete", "prod", "--yes"), setup=("profile",), check=profile_state("prod", exists=False)),
    Line(("profile", "delete", "prod", "-y"), setup=("profile",), check=profile_state("prod", exists=False)),
    # enroll
    Line(("enroll", "node", "--profile", "prod", "--role", "producer", "--name", "billing"), setup=("profile",),
         check=identity(".aster-identity", name="billing", role="producer", kind="producer",
                        attributes={"aster.role": "producer"})),
    Line(("enroll", "node", "-p", "prod", "-r", "consumer", "-n", "agent", "-t", "ott", "-a", "team=ops,tier=gold",
          "-e", "24h", "-c", "ops.status,ops.logs", "-o", "agent.id", "-q"), setup=("profile",),
         check=both(quiet_line("agent.id"),
                    identity("agent.id", name="agent", role="consumer", kind="ott", attributes=CONSUMER_ATTRS))),
    Line(("enroll", "node", "--role", "consumer", "--name", "laptop", "--type", "policy", "--attributes", "team=a",
          "--expires", "2030-01-01T00:00:00Z", "--root-key", "root.key", "--signer", "local", "--identity",
          "laptop.id", "--capabilities", "reader", "--out", "laptop.id", "--quiet"), setup=("rootkey",),
         check=identity("laptop.id", name="laptop", role="consumer", kind="policy",
                        attributes={"aster.role": "reader", "team": "a"})),
    Line(("enroll", "node", "-r", "consumer", "-n", "c", "-i", "c.id", "--root-key", "root.key"), setup=("rootkey",),
         check=identity("c.id", name="c", role="consumer", kind="policy", attributes={"aster.role": "consumer"}),
         note="aster.role is written as signed (0.1.2 dropped it and the credential was never admitted)"),
    Line(("enroll", "node", "-r", "consumer", "-a", "team=a,oops", "--root-key", "root.key"), code=2,
         setup=("rootkey",), check=stderr_has("'oops'"), note="0.1.2 dropped a part without '=' unsigned"),
    Line(("enroll", "node", "-r", "consumer", "--signer", "kms", "--root-key", "root.key"), code=2, setup=("rootkey",),
         note="0.1.2 had only the local signer too (it exited 1)"),
    # registry, offline parts
    Line(("status", "--local"), setup=("profile",), check=stdout_has("prod")),
    Line(("whoami", "--local"), setup=("profile",), check=stdout_has("prod")),
    Line(("join", "--handle", "alice", "--email", "a@example.com", "--demo"), code=2, check=stderr_has("--demo"),
         note=NO_DEMO),
    Line(("verify", "123456", "--demo"), code=2, note=NO_DEMO),
    Line(("publish", SERVICE, "--demo"), code=2, note=NO_DEMO),
    Line(("unpublish", "Inventory", "--demo"), code=2, note=NO_DEMO),
    # shell without a peer: a live sample peer instead of canned data
    Line(("shell",), input="ls\ncd SampleMissions\n./status aurora\n", check=stdout_has('"crew": 4')),
    Line(("shell", "--demo"), input="ls\n", check=stdout_has("SampleMissions")),
    Line(("shell", "--demo", "--air-gapped", "--json"), input="ls\n",
         check=lambda w, d: [json.loads(line) for line in d.stdout.splitlines()]),
    # init
    Line(("init", "--ai"), check=agent_guide(".", "python")),
    Line(("init", "--ai", "--language", "python", "--dir", "."), check=agent_guide(".", "python")),
    Line(("init", "--ai", "-l", "typescript", "-d", "."), check=agent_guide(".", "typescript"),
         note="0.1.2 had a Python guide only (exit 1 for typescript)"),
    Line(("init", "--ai"), code=2, setup=("own_guide",), check=stderr_has("--force"),
         note="0.1.2 replaced any AGENTS_aster.md; ours only the one it wrote, or with --force"),
    Line(("init", "--ai", "--force"), setup=("own_guide",), check=agent_guide(".", "python")),
    Line(("init",), code=2, check=stderr_has("init --ai"), note="0.1.2 printed its usage and exited 1"),
    # authorize
    Line(("authorize", "--root-key", "root.key", "--producer-id", EID), setup=("rootkey",),
         check=credential("enrollment.token", "producer", endpoint_id=EID, attributes={})),
    Line(("authorize", "--root-key", "root.key", "--producer-id", EID, "--attributes", '{"aster.role":"producer"}',
          "--expires", "2030-01-01T00:00:00Z", "--out", "auth/p.token"), setup=("rootkey",),
         check=credential("auth/p.token", "producer", attributes={"aster.role": "producer"}, expires_at=Y2030)),
]

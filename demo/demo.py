#!/usr/bin/env python3
"""The guided end-to-end demo: every step is a real `aster` command, on embedded defaults.

Run through `python3 dev.py demo` (which sets everything up first). It works in
`.demo/` inside the checkout: its own ASTER_HOME, and a file-based keyring
there because a fresh headless machine has no OS keyring (on a desktop, drop
PYTHON_KEYRING_BACKEND and the key goes to the real keyring). Networking stays
on loopback (ASTER_RELAY_MODE=disabled). ASTER_DEMO_DIR picks another folder than
`.demo/` (the test suite runs the demo in a temporary one).

Why this module is long: it is the demo's script, one function per section, read top to
bottom as the story it tells; the runner (class Demo) is its first hundred lines.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(os.environ.get("ASTER_DEMO_DIR") or ROOT / ".demo")
BIN = Path(sys.executable).parent
EXAMPLE = ROOT / "examples" / "tasks-service"  # TaskService: its contract, two changes, a producer
PRODUCER = (sys.executable, "-m", "tasks_service.producer", "--advertise", "127.0.0.1")
BOARD = ("--service", "tasks_service.board:TaskBoard", "--service", "tasks_service.board:Draft")
BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() and not os.environ.get("NO_COLOR") else ("", "", "")


class Demo:
    def __init__(self) -> None:
        shutil.rmtree(WORK, ignore_errors=True)
        WORK.mkdir()
        self.env = {**os.environ, "ASTER_HOME": str(WORK / "home"), "ASTER_RELAY_MODE": "disabled",
                    "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
                    "XDG_DATA_HOME": str(WORK / "keyring"),
                    "PYTHONPATH": str(EXAMPLE),
                    "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        self.count = 0
        self.background: list[subprocess.Popen] = []

    def section(self, title: str, text: str) -> None:
        print(f"\n{BOLD}== {title} =={RESET}\n{textwrap.fill(text, 88)}")

    def write(self, name: str, text: str) -> None:
        """Write a file the next commands read, and show it."""
        (WORK / name).write_text(text)
        print(f"\n{DIM}-- {name}{RESET}\n{textwrap.indent(text, '  ')}", end="")

    def run(self, title: str, *argv: str, expect: int = 0, stdin: str | None = None,
            stdin_from: str | None = None, show: bool = True) -> subprocess.CompletedProcess:
        """Run one command as a user would, show it and its output, stop the demo if it misbehaves.

        ``stdin_from`` names a file in the demo's folder to feed it (shown as ``< FILE``)."""
        self.count += 1
        shown = " ".join(a if " " not in a and a else repr(a) for a in argv)
        if stdin_from:
            stdin, shown = (WORK / stdin_from).read_text(), f"{shown} < {stdin_from}"
        print(f"\n{BOLD}[{self.count}] {title}{RESET}\n{DIM}$ {shown}{RESET}", flush=True)
        proc = subprocess.run(list(argv), cwd=WORK, env=self.env, input=stdin, capture_output=True, text=True,
                              timeout=120)
        if show:
            sys.stdout.write(textwrap.indent(proc.stdout, "  "))
            sys.stdout.write(textwrap.indent(proc.stderr, "  "))
        if proc.returncode != expect:
            print(f"\nThe demo stopped: exit code {proc.returncode}, expected {expect}.", file=sys.stderr)
            if not show:
                print(proc.stdout, proc.stderr, file=sys.stderr)
            self.close()
            sys.exit(1)
        return proc

    def serve(self, title: str, *argv: str) -> dict:
        """Start a service in the background; returns the JSON line it prints once serving."""
        print(f"\n{BOLD}-- {title}{RESET}\n{DIM}$ {' '.join(argv)} &{RESET}", flush=True)
        proc = subprocess.Popen(list(argv), cwd=WORK, env=self.env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.background.append(proc)
        line = proc.stdout.readline()
        try:
            info = json.loads(line)
            if "address" not in info:
                raise ValueError(line)
        except ValueError:
            print(f"\nThe demo stopped: the service did not start ({line.strip()!r}).", file=sys.stderr)
            self.close()
            sys.exit(1)
        print(f"  serving at {info['address'][:48]}...")
        return info

    def background_log(self, title: str, argv: list[str], log: Path, ready: str, timeout: float = 120) -> str:
        """Start ``argv`` in the background with its output in ``log``; returns the text after
        ``ready`` on the first line that starts with it."""
        import time

        print(f"\n{BOLD}-- {title}{RESET}\n{DIM}$ {' '.join(argv)} > {log.name} &{RESET}", flush=True)
        with open(log, "w") as out:
            proc = subprocess.Popen(argv, cwd=WORK, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, text=True)
        self.background.append(proc)
        end = time.monotonic() + timeout
        while time.monotonic() < end and proc.poll() is None:
            for line in log.read_text().splitlines():
                if line.startswith(ready):
                    print(textwrap.indent("\n".join(log.read_text().splitlines()[:12]), "  "))
                    return line[len(ready):]
            time.sleep(0.2)
        print(f"\nThe demo stopped: {argv[0]} {argv[1]} did not get ready.", file=sys.stderr)
        print(log.read_text()[-3000:], file=sys.stderr)
        self.close()
        sys.exit(1)

    def close(self) -> None:
        for proc in self.background:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def host(d: Demo) -> None:
    d.section("The host", "`aster` is a small host; each command family is its own distribution, found "
              "through entry points. `aster plugins` shows what is installed.")
    d.run("Installed host and families", "aster", "--version")
    d.run("Families, their commands and hooks", "aster", "plugins")
    d.run("A profile per mesh: the root private key goes to the keyring, only the public key to "
          "config.toml", "aster", "profile", "create", "dev")
    d.run("A second profile (the first stays active)", "aster", "profile", "create", "prod")
    d.run("List them", "aster", "profile", "list")
    d.run("Bad input is one line and an exit code (duplicate profile: exit 2)", "aster", "profile", "create",
          "dev", expect=2)
    d.run("Every runtime setting with its value and source (env vars beat files beat defaults)",
          "aster", "config", "show")
    d.run("Health of plugins, keyring, config and home", "aster", "doctor")
    d.run("A third-party family (examples/plugin-hello) adds a command without touching the host",
          "aster", "hello", "Ada", "--json")


def trust(d: Demo) -> None:
    d.section("Trust: offline root keys and signed credentials",
              "Everything in a mesh traces back to an ed25519 root key. Servers trust its public half; "
              "credentials it signs admit consumers and producers. Works with no network and no runtime.")
    d.run("A root key pair (JSON, mode 0600, never silently replaced)", "aster", "trust", "keygen", "root",
          "--out", "root.key")
    d.run("Its public key, the file servers are given", "aster", "trust", "keygen", "pubkey", "--in", "root.key",
          "--out", "root.pub")
    d.run("Running keygen again refuses to replace the key (exit 2)", "aster", "trust", "keygen", "root",
          "--out", "root.key", expect=2)
    d.run("A consumer credential granting the role 'reader', valid 30 days", "aster", "trust", "sign", "consumer",
          "--root-key", "root.key", "--type", "policy", "--attr", "aster.role=reader", "--attr", "team=billing",
          "--expires", "30d", "--out", "reader.cred")
    d.run("What is in it, and does its signature hold?", "aster", "trust", "inspect", "reader.cred")
    d.run("Verify against the root public key (exit 0 only if signature, root and expiry hold)",
          "aster", "trust", "verify", "reader.cred", "--root-pubkey", "root.pub")
    d.run("A one-time token carries a fresh 32-byte nonce", "aster", "trust", "sign", "consumer", "--root-key",
          "root.key", "--type", "ott", "--expires", "24h", "--out", "once.cred")
    d.run("...which inspect shows", "aster", "trust", "inspect", "once.cred")
    d.run("Bad input is one line (an --attr without '='; exit 2, nothing written)", "aster", "trust", "sign",
          "consumer", "--root-key", "root.key", "--attr", "team", "--out", "bad.cred", expect=2)


def enroll(d: Demo) -> None:
    d.section("Enroll: node identities",
              "`enroll node` makes (or reuses) the node's key, computes its endpoint id offline, signs a "
              "credential bound to it and upserts a [[peers]] entry in .aster-identity (locked, atomic, 0600).")
    d.run("Enroll this machine as a consumer that may read tasks", "aster", "enroll", "node", "--role",
          "consumer", "--name", "laptop", "--capabilities", "tasks.reader", "--root-key", "root.key",
          "--identity", "laptop.aster-identity")
    d.run("Enroll again: the entry is replaced by name, the node key kept, other tables too (quiet output)",
          "aster", "enroll", "node", "--role", "consumer", "--name", "laptop", "--capabilities", "tasks.reader",
          "--attr", 'note=say "hi"', "--root-key", "root.key", "--identity", "laptop.aster-identity", "-q")
    d.run("Inspect the enrolled peer", "aster", "trust", "inspect", "laptop.aster-identity", "--peer", "laptop")
    d.run("Or sign with the active profile's key from the keyring (no key file at all)", "aster", "enroll",
          "node", "--role", "producer", "--name", "billing-producer", "--identity", "producer.identity")


def contract(d: Demo) -> None:
    d.section("Contracts: identity, manifests, diff and typed clients",
              "A contract id is a service's wire identity (BLAKE3 of its canonical form, computed by the "
              "runtime's own function). A committed manifest stops a server whose interface changed by accident.")
    d.run("Generate the manifest of the example service (examples/tasks-service)", "aster", "contract", "gen",
          "--service", "tasks_service.contract:TaskService")
    d.run("A readable view of it", "aster", "contract", "preview", "--manifest", ".aster/manifest.json")
    d.run("Export a portable contract", "aster", "contract", "export", "--manifest", ".aster/manifest.json",
          "-o", "exports")
    d.run("Import it into the local store", "aster", "contract", "import", "exports/TaskService.aster.json")
    d.run("Verify the export against the manifest (exit 0: they match)", "aster", "contract", "verify",
          "exports/TaskService.aster.json")
    d.serve("The producer's startup check reads ./.aster/manifest.json and accepts it", *PRODUCER,
            "--max-lifetime", "60")
    d.run("A typed Python client from the export", "aster", "contract", "gen-client",
          "exports/TaskService.aster.json", "--out", "clients")
    d.run("A TypeScript client for @aster-rpc/aster", "aster", "contract", "gen-client", ".aster/manifest.json",
          "--lang", "typescript", "--out", "clients-ts", "--package", "tasks")
    d.run("A breaking change of the interface (examples/tasks-service/tasks_service/breaking.py)", "aster",
          "contract", "gen", "--service", "tasks_service.breaking:TaskService", "--out", "v2.json")
    d.run("What changed and does it break callers? (exit 1: breaking changes)", "aster", "contract", "diff",
          "exports/TaskService.aster.json", "v2.json", expect=1)


def connect(d: Demo) -> None:
    d.section("Connect: call and explore live services",
              "The example's board (examples/tasks-service/tasks_service/board.py) on loopback: TaskBoard, with "
              "unary, server-stream and client-stream methods, which records who asked from the call's metadata "
              "and exists only as version 2 (the released CLI's runtime clients reach version 1 alone), and "
              "Draft, a session-scoped service: each caller's session keeps its own draft.")
    addr = d.serve("Start the board", *PRODUCER, *BOARD, "--max-lifetime", "180")["address"]
    d.run("A unary call with call metadata (-H): the board records who asked", "aster", "call", addr,
          "TaskBoard.add", '{"title": "water the plants", "tags": ["home"]}', "-H", "requested-by=ada")
    d.write("task.json", '{"title": "fix the bike", "tags": ["home", "repair"]}\n')
    d.run("The request from a file (-d @FILE); -v says on stderr what was dialled, the credential, the "
          "timings and the trailer", "aster", "call", addr, "TaskBoard.add", "-d", "@task.json", "-H",
          "requested-by=grace", "-v")
    d.write("more-tasks.jsonl", '{"title": "buy milk", "tags": ["home"]}\n{"title": "renew the passport"}\n')
    d.run("A client stream: one request per JSON line on stdin, one answer", "aster", "call", addr,
          "TaskBoard.import_tasks", stdin_from="more-tasks.jsonl")
    d.run("A server stream: one JSON line per item as it arrives", "aster", "call", addr, "TaskBoard.list",
          '{"tag": "home"}')
    d.write("calls.jsonl", "\n".join([
        '{"id": "rent", "method": "TaskBoard.add", "args": {"title": "pay the rent", "tags": ["home"]}}',
        '{"id": "typo", "method": "TaskBoard.add", "args": {"titel": "call the plumber"}}',
        '{"id": "ada", "method": "TaskBoard.add", "args": {"title": "plan the trip"}, '
        '"metadata": {"requested-by": "ada"}}',
        '{"id": "top", "method": "TaskBoard.list", "args": {"limit": 2}}']) + "\n")
    d.run("Many calls over one connection: --batch takes JSON lines and writes one result line per call, in "
          "order; a failed call does not stop the others (exit 1: one failed)", "aster", "call", addr, "--batch",
          "-H", "requested-by=script", stdin_from="calls.jsonl", expect=1)
    d.run("A typo: exit 4 and the methods that do exist", "aster", "call", addr, "TaskBoard.lsit", "{}",
          expect=4)
    d.write("draft.txt", 'ls\ncd TaskBoard\nls\nsession Draft\n./add title="book the venue"\n'
                         './add title="send the invitations"\n./submit\nexit\nhello\n')
    d.run("The shell, scripted: `session Draft` holds one session until `exit`; `hello` comes from a family",
          "aster", "shell", addr, stdin_from="draft.txt")
    trusted = d.serve("The example in trusted mode: it admits only credentials signed by root.key", *PRODUCER,
                      "--root-pubkey", "root.pub", "--service", "tasks_service.contract:TaskService", *BOARD[:2],
                      "--max-lifetime", "120")
    d.run("The enrolled identity (role tasks.reader) may read a task", "aster", "call", trusted["address"],
          "TaskService.get", '{"task_id": 7}', "--rcan", "laptop.aster-identity")
    d.run("...but not clear the board (role tasks.admin; exit 3, naming the credential presented)", "aster",
          "call", trusted["address"], "TaskBoard.clear", "{}", "--rcan", "laptop.aster-identity", expect=3)
    mcp(d, addr)


def mcp(d: Demo, addr: str) -> None:
    d.section("MCP: every method as a tool for an AI agent",
              "`aster mcp ADDRESS` serves the peer's methods over the Model Context Protocol, with real JSON "
              "Schemas from the published manifests. --list shows what an agent will see without serving.")
    d.run("The tools an agent sees (hiding one with --deny)", "aster", "mcp", addr, "--list", "--deny",
          "TaskBoard.clear")
    d.run("An agent (the official MCP SDK client) calls tools; a --confirm tool asks the user first",
          sys.executable, str(ROOT / "demo" / "mcp_agent.py"), addr)


def local_mesh(d: Demo) -> dict:
    d.section("A local mesh in one command",
              "`aster local init` makes what a mesh needs on this machine: a profile (here from root.key, so no "
              "keyring is needed), an admin identity bound to its own node key with the role authority.admin, an "
              "authority and a registry on SQLite, and config.toml pointing at them. `aster local up` runs both "
              "servers with one combined log, writes their addresses into config.toml and stops both on Ctrl-C.")
    d.run("Make the mesh in ./mesh, its root key the one made above", "aster", "local", "init", "--out", "mesh",
          "--root-key", "root.key")
    ready = json.loads(d.background_log("Run the authority and the registry (their log: mesh.log)",
                                        ["aster", "local", "up", "--dir", "mesh", "--max-lifetime", "900"],
                                        WORK / "mesh.log", "[local] ready "))
    d.run("What is configured, and does each server answer?", "aster", "local", "status")
    d.run("Who we are to the authority (no variable, no flag: config.toml says)", "aster", "authority", "whoami")
    return ready


def authority(d: Demo) -> None:
    mesh = local_mesh(d)
    d.section("Authority: reviewed deployments, local signing, grants",
              "The local authority holds service deployments. A proposed contract becomes a plan, classified "
              "update (compatible) or migration (breaking); a person accepts it; reconcile signs the credentials "
              "the accepted state calls for on this machine (the authority never sees the root key) and uploads "
              "them. Nodes fetch their own credentials with their node key.")
    authority_addr = mesh["authority"]["address"]
    d.run("A service deployment whose instances get the role 'tasks'", "aster", "svc", "tasks", "create",
          "--namespace", "Task*", "--role", "tasks")
    for name, module in (("v1", "contract"), ("update", "compatible"), ("migration", "breaking")):
        d.run(f"TaskService's manifest ({name})", "aster", "contract", "gen", "--service",
              f"tasks_service.{module}:TaskService", "--out", f"tasks_{name}.json", show=False)

    def plan_of(proc: subprocess.CompletedProcess) -> str:
        return json.loads(proc.stdout)["plan"]["plan_id"]

    plan = plan_of(d.run("Propose it: a plan (its id read from --json; the table follows)", "aster", "svc",
                         "tasks", "apply", "--manifest", "tasks_v1.json", "--json", show=False))
    d.run("The plans of the deployment", "aster", "svc", "tasks", "authority", "plan", "list")
    d.run("Accept it (without --yes it shows the changes and asks)", "aster", "svc", "tasks", "authority",
          "accept-update", plan, "--yes")
    d.run("Provision an instance: node key and producer credential signed here, registered, written 0600", "aster",
          "svc", "tasks", "provision", "--out", "tasks.identity", "--root-key", "root.key")
    tasks = d.serve("The service runs with that identity, trusting the root, behind aster_authority.gate",
                    *PRODUCER, "--identity", "tasks.identity", "--root-pubkey", "root.pub", "--authority",
                    authority_addr, "--deployment", "tasks", "--refresh", "0.2", "--max-lifetime", "300")
    plan = plan_of(d.run("A compatible change (new method, new optional field)", "aster", "svc", "tasks", "apply",
                         "--manifest", "tasks_update.json", "--json", show=False))
    d.run("...is an update: accept it and reconcile in one step", "aster", "svc", "tasks", "authority",
          "accept-update", plan, "--yes", "--reconcile", "--root-key", "root.key")
    plan = plan_of(d.run("A breaking change (method removed, field retyped)", "aster", "svc", "tasks", "apply",
                         "--manifest", "tasks_migration.json", "--json", show=False))
    d.run("...is a migration: accept-update refuses it (exit 1)", "aster", "svc", "tasks", "authority",
          "accept-update", plan, "--yes", expect=1)
    d.run("accept-migration needs an acknowledgement", "aster", "svc", "tasks", "authority", "accept-migration",
          plan, "--acknowledgement", "callers move to text ids", "--yes", "--reconcile", "--root-key", "root.key")
    d.run("A new consumer asks for its credential: none yet (exit 4), but now it has a key and an endpoint id",
          "aster", "authority", "fetch", "--identity", "reader.identity", expect=4)
    import tomllib

    consumer = tomllib.loads((WORK / "reader.identity").read_text())["node"]["endpoint_id"]
    d.run("Grant it the role tasks.reader", "aster", "grants", "add", "--deployment", "tasks", "--consumer",
          consumer, "--role", "tasks.reader")
    d.run("Reconcile signs exactly what is missing", "aster", "svc", "tasks", "authority", "reconcile",
          "--root-key", "root.key")
    # what a compromised authority could try: a row nobody decided, written straight into its database
    sql = "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute(sys.argv[2]); db.commit()"
    thief = "ab" * 32
    d.run("An attacker with the authority's database grants itself authority.admin (no admin decided it)",
          sys.executable, "-c", sql, "mesh/authority/authority.db", "INSERT INTO authority_grants (deployment_id, "
          f"consumer, role, created_at, created_by) VALUES ('tasks', '{thief}', 'authority.admin', 0, '')")
    d.run("Reconcile replays the signed decisions: the forged grant is refused, never signed (exit 1)", "aster",
          "svc", "tasks", "authority", "reconcile", "--root-key", "root.key", expect=1)
    d.run("(the demo deletes the forged row again)", sys.executable, "-c", sql, "mesh/authority/authority.db",
          f"DELETE FROM authority_grants WHERE consumer = '{thief}'", show=False)
    d.run("Every change is a decision signed by an admin's node key, chained by hash: the deployment's log",
          "aster", "svc", "tasks", "authority", "log")
    d.run("A second admin, bound to a node key of its own (only the root key makes one)", "aster", "enroll", "node",
          "--role", "consumer", "--name", "ops-2", "--capabilities", "authority.admin", "--root-key", "root.key",
          "--identity", "ops-2.identity", "-q")
    second = tomllib.loads((WORK / "ops-2.identity").read_text())["node"]["endpoint_id"]
    d.run("...which the authority admits", "aster", "svc", "list", "--rcan", "ops-2.identity")
    d.run("The admins and reviewers the authority has admitted", "aster", "authority", "admins", "list")
    d.run("Revoke the second admin: itself a signed decision", "aster", "authority", "admins", "revoke", second,
          "--reason", "left the team")
    d.run("...refused at once on its next call, though its credential has not expired (exit 3)", "aster", "svc",
          "list", "--rcan", "ops-2.identity", expect=3)
    d.run("The consumer fetches it with its own node key", "aster", "authority", "fetch", "--identity",
          "reader.identity")
    d.run("...and calls the role-gated method", "aster", "call", tasks["address"], "TaskService.get",
          '{"task_id": 7}', "--rcan", "reader.identity")
    d.run("Revoke the grant", "aster", "grants", "remove", "--deployment", "tasks", "--consumer", consumer,
          "--role", "tasks.reader")
    d.run("The producer's gate refuses it at once (exit 3), though its credential has not expired", "aster", "call",
          tasks["address"], "TaskService.get", '{"task_id": 7}', "--rcan", "reader.identity", expect=3)
    devices(d, authority_addr)


def devices(d: Demo, authority_addr: str) -> None:
    d.section("Devices: provisioning, activation, review, revocation",
              "A device deployment with review required. The operator provisions devices on this machine: a "
              "root secret from the OS, the device's node key and activation key derived from it (HKDF, the "
              "Trellis scheme), its credential signed here and held by the authority, a bundle (0600) for the "
              "device. The device activates by proving its activation key over a fresh server challenge; a "
              "reviewer approves it; revoking it makes every producer's gate refuse it at once.")
    d.run("A device deployment: devices get the role tasks.reader once a reviewer approves them", "aster", "dev",
          "sensors", "create", "--review-mode", "required", "--role", "tasks.reader")
    d.run("Provision a device (the root secret goes only into its bundle)", "aster", "dev", "sensors", "provision",
          "--name", "hall-1", "--serial-number", "SN-001", "--model-number", "T1", "--metadata", "site=berlin",
          "--out", "hall-1.bundle.json", "--root-key", "root.key")
    d.run("And a second one", "aster", "dev", "sensors", "provision", "--name", "hall-2", "--serial-number",
          "SN-002", "--model-number", "T1", "--out", "hall-2.bundle.json", "--root-key", "root.key")
    d.run("A batch: one bundle per device and an index.csv (progress on stderr)", "aster", "dev", "sensors",
          "provision", "--count", "3", "--name", "dock", "--out-dir", "fleet", "--root-key", "root.key")
    d.run("The devices (name, serial, model; --show-metadata adds the rest)", "aster", "dev", "sensors", "instances",
          "--show-metadata")
    d.run("On the device: activate. Review required, so a review opens: exit 10 means 'pending, come back'",
          "aster", "dev", "activate", "--bundle", "hall-1.bundle.json", "--identity", "hall-1.identity", expect=10)
    pending = d.run("A reviewer sees it", "aster", "dev", "sensors", "reviews", "list", "--state", "pending",
                    "--json", show=False)
    review = json.loads(pending.stdout)["items"][0]["review_id"]
    d.run("The pending reviews", "aster", "dev", "sensors", "reviews", "list", "--state", "pending")
    d.run("Approve it (approving again is a no-op; rejecting it now would be an error)", "aster", "dev", "sensors",
          "reviews", "approve", review, "--reason", "site visit done")
    d.run("The device activates again: now its credential is written into its .aster-identity", "aster", "dev",
          "activate", "--bundle", "hall-1.bundle.json", "--identity", "hall-1.identity")
    d.run("The producer devices call: another instance of svc/tasks (the authority gives a deployment's "
          "revocation list only to producers it knows)", "aster", "svc", "tasks", "provision", "--out",
          "devices-producer.identity", "--root-key", "root.key")
    gated = d.serve("It runs with a gate that follows the revocation list of dev/sensors", *PRODUCER,
                    "--identity", "devices-producer.identity", "--root-pubkey", "root.pub", "--authority",
                    authority_addr, "--deployment", "sensors", "--refresh", "0.2", "--max-lifetime", "200")
    d.run("The device calls the role-gated method with its credential", "aster", "call", gated["address"],
          "TaskService.get", '{"task_id": 7}', "--rcan", "hall-1.identity")
    instance = json.loads((WORK / "hall-1.bundle.json").read_text())["instance_id"]
    d.run("Revoke the device's activation", "aster", "dev", "sensors", "activations", "revoke", instance)
    d.run("The producer refuses it at once (exit 3); the authority no longer releases or renews its credential",
          "aster", "call", gated["address"], "TaskService.get", '{"task_id": 7}', "--rcan", "hall-1.identity",
          expect=3)
    d.run("...and the device cannot activate again (exit 3)", "aster", "dev", "activate", "--bundle",
          "hall-1.bundle.json", "--identity", "hall-1.identity", expect=3)
    d.run("The activations", "aster", "dev", "sensors", "activations", "list")


def registry(d: Demo) -> None:
    d.section("Registry: a handle, a published service, and calls by @handle/Service",
              "The local mesh's registry (`aster registry serve`, which the released aster-cli 0.1.2 also works "
              "with) runs with --dev-mail: codes go to its log instead of a mail server. You claim a handle, "
              "verify it with the code, publish a service: its producer token lands in the producer's "
              ".aster-identity, so the producer registers its live endpoint itself, and anyone with the "
              "registry's address calls it as @handle/Service. `aster local up` wrote that address into "
              "config.toml, so no command here needs --registry or ASTER_SERVICE_ADDR.")
    import re
    import time

    log_path = WORK / "mesh.log"  # the registry's lines are the ones `aster local up` prefixes [registry]
    d.run("The registry this machine uses, and whether it answers", "aster", "registry", "whoami")
    d.run("Claim a handle (the code goes out by mail; here, to the registry's log: mesh.log)", "aster", "join",
          "--handle", "ada", "--email", "ada@example.com")
    code = None
    for _ in range(100):
        found = re.search(r"\[registry\] .*code for @ada\b.*?(\d{6})", log_path.read_text())
        if found:
            code = found.group(1)
            break
        time.sleep(0.1)
    if code is None:
        print("\nThe demo stopped: no verification code in the registry's log.", file=sys.stderr)
        d.close()
        sys.exit(1)
    d.run("A wrong code is refused (exit 2); nothing changes locally", "aster", "verify",
          "000000" if code != "000000" else "111111", expect=2)
    d.run("Verify with the code from the log", "aster", "verify", code)
    d.run("Who am I, locally and on the registry", "aster", "whoami")
    (WORK / "producer").mkdir(exist_ok=True)
    d.run("A producer identity for the node that will serve it", "aster", "enroll", "node", "--role", "producer",
          "--name", "tasks-producer", "--identity", "producer/.aster-identity", "-q")
    d.run("Publish TaskService; the token goes into the producer peer (recovery codes are shown once)",
          "aster", "publish", "tasks_service.contract:TaskService", "--description",
          "Tasks: the example service", "--public", "--identity", "producer/.aster-identity")
    d.run("Find it", "aster", "discover", "tasks")
    d.serve("Start the producer with that identity: it registers its endpoint with the registry", *PRODUCER,
            "--identity", "producer/.aster-identity", "--max-lifetime", "120")
    for _ in range(40):  # the runtime registers 2 s after start
        probe = subprocess.run(["aster", "call", "@ada/TaskService.ping", '{"task_id": 1}', "--timeout", "5"],
                               cwd=WORK, env=d.env, capture_output=True, text=True, timeout=60)
        if probe.returncode == 0:
            break
        time.sleep(0.5)
    d.run("Call it by name: the registry resolves @ada/TaskService to the live endpoint", "aster", "call",
          "@ada/TaskService.ping", '{"task_id": 7}')
    d.run("Grant a consumer access (the documented spelling)", "aster", "access", "grant", "@grace", "--service",
          "TaskService", "--role", "reader")
    d.run("The grants", "aster", "access", "list", "--service", "TaskService")
    d.run("Withdraw it; the token is removed from the producer's identity", "aster", "unpublish", "TaskService",
          "--identity", "producer/.aster-identity")


SECTIONS = [host, trust, enroll, contract, connect, authority, registry]


def main() -> int:
    d = Demo()
    try:
        for section in SECTIONS:
            section(d)
    finally:
        d.close()
    print(f"\n{BOLD}Demo finished: {d.count} commands, all as expected.{RESET} Its files are in {WORK}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The guided end-to-end demo: every step is a real `aster` command, on embedded defaults.

Run through `python3 dev.py demo` (which sets everything up first). It works in
`.demo/` inside the checkout: its own ASTER_HOME, and a file-based keyring
there because a fresh headless machine has no OS keyring (on a desktop, drop
PYTHON_KEYRING_BACKEND and the key goes to the real keyring). Networking stays
on loopback (ASTER_RELAY_MODE=disabled).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".demo"
BIN = Path(sys.executable).parent
BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() and not os.environ.get("NO_COLOR") else ("", "", "")


class Demo:
    def __init__(self) -> None:
        shutil.rmtree(WORK, ignore_errors=True)
        WORK.mkdir()
        self.env = {**os.environ, "ASTER_HOME": str(WORK / "home"), "ASTER_RELAY_MODE": "disabled",
                    "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
                    "XDG_DATA_HOME": str(WORK / "keyring"), "PYTHONPATH": str(ROOT),
                    "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        self.count = 0
        self.background: list[subprocess.Popen] = []

    def section(self, title: str, text: str) -> None:
        print(f"\n{BOLD}== {title} =={RESET}\n{textwrap.fill(text, 88)}")

    def run(self, title: str, *argv: str, expect: int = 0, stdin: str | None = None,
            show: bool = True) -> subprocess.CompletedProcess:
        """Run one command as a user would, show it and its output, stop the demo if it misbehaves."""
        self.count += 1
        shown = " ".join(a if " " not in a and a else repr(a) for a in argv)
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


SECTIONS = [host]


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

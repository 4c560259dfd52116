"""Every question a command asks goes through `aster_core.prompts`: without a terminal it is
never put (exit 2, a hint naming `--yes` or the flag that gives the value), with `--json` it is
never put either, and at a terminal it is asked (on stderr) and Ctrl-C is exit 130.

The no-terminal cases run in-process (click's runner: stdin is not a tty); the terminal cases
run the installed script on a real pseudo-terminal.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time

import pytest

from aster_core.testing import aster_executable, assert_clean_error, invoke


def test_profile_delete_without_a_terminal_is_usage_naming_yes(aster_env):
    assert invoke(["profile", "create", "dev"]).returncode == 0
    for args in (["profile", "delete", "dev"], ["profile", "delete", "dev", "--json"]):
        for stdin in ("", "y\n"):  # an answer piped in is no person at a terminal
            assert_clean_error(invoke(args, input=stdin), 2, "--yes")
    assert invoke(["profile", "show", "dev"]).returncode == 0  # still there


@pytest.mark.parametrize("args", [
    ["svc", "payments", "remove"],
    ["dev", "sensors", "remove"],
    ["svc", "payments", "remove", "--json"],
    ["svc", "payments", "authority", "accept-update", "01ARZ3NDEKTSV4RRFFQ69G5FAV"],
    ["svc", "payments", "authority", "accept-migration", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "--acknowledgement", "x"],
    ["svc", "payments", "authority", "accept-update", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "--json"],
])
def test_authority_questions_without_a_terminal(args):
    """Refused before any authority is dialled (none is configured here): exit 2, not 130."""
    line = assert_clean_error(invoke(args, plugins=["authority"], input=""), 2, "--yes")
    assert "interrupted" not in line.lower()


def test_registry_values_without_a_terminal():
    assert_clean_error(invoke(["join", "--registry", "ab" * 32], plugins=["registry", "connect", "trust"], input=""),
                       2, "--handle")
    assert_clean_error(invoke(["verify", "--registry", "ab" * 32], plugins=["registry", "connect", "trust"],
                              input=""), 2, "CODE")


def _as_a_terminal_starts_it() -> None:
    """Ctrl-C acts as it does for a command a shell starts: an xdist worker ignores SIGINT, and a
    child inherits that (Python then installs no KeyboardInterrupt handler), so restore the default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Terminal:
    """The installed ``aster`` on a pseudo-terminal (stdin, stdout and stderr all on it)."""

    def __init__(self, args: list[str], plugins: str = "-"):
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen([aster_executable(), *args], stdin=slave, stdout=slave, stderr=slave,
                                     env={**os.environ, "ASTER_PLUGINS": plugins}, start_new_session=True,
                                     preexec_fn=_as_a_terminal_starts_it)
        os.close(slave)
        self.seen = b""

    def expect(self, text: bytes, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while text not in self.seen:
            left = end - time.monotonic()
            assert left > 0, f"never saw {text!r}; saw {self.seen!r}"
            if select.select([self.master], [], [], left)[0]:
                try:
                    self.seen += os.read(self.master, 4096)
                except OSError:  # the child closed the terminal
                    break
        assert text in self.seen, self.seen

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def finish(self, timeout: float = 30) -> int:
        code = self.proc.wait(timeout)
        try:
            while select.select([self.master], [], [], 0.2)[0]:
                chunk = os.read(self.master, 4096)
                if not chunk:
                    break
                self.seen += chunk
        except OSError:
            pass
        os.close(self.master)
        return code


def test_at_a_terminal_the_question_is_asked_and_answered(aster_env):
    assert invoke(["profile", "create", "dev"]).returncode == 0
    assert invoke(["profile", "create", "keep"]).returncode == 0
    no = Terminal(["profile", "delete", "keep"])
    no.expect(b"Delete profile 'keep'")
    no.send(b"n\n")
    assert no.finish() == 2 and b"was not deleted" in no.seen
    yes = Terminal(["profile", "delete", "dev"])
    yes.expect(b"Delete profile 'dev'")
    yes.send(b"y\n")
    assert yes.finish() == 0, yes.seen
    names = invoke(["profile", "list", "--json"]).stdout
    assert '"dev"' not in names and '"keep"' in names


def test_ctrl_c_at_a_question_is_130(aster_env):
    """Sent the moment the question shows, five times: ``input()`` under readline lost about one
    Ctrl-C in three sent then and waited for Enter (the reason prompts read stdin themselves)."""
    assert invoke(["profile", "create", "dev"]).returncode == 0
    for _ in range(5):
        term = Terminal(["profile", "delete", "dev"])
        term.expect(b"[y/N]: ")
        term.proc.send_signal(signal.SIGINT)  # what the terminal sends for Ctrl-C
        assert term.finish(timeout=15) == 130, term.seen
        assert b"Traceback" not in term.seen
    assert invoke(["profile", "show", "dev"]).returncode == 0


def test_typed_confirmation_at_a_terminal():
    """`remove` asks for the typed svc/ID before dialling: a wrong answer is exit 2, Ctrl-C 130."""
    wrong = Terminal(["svc", "payments", "remove"], plugins="authority")
    wrong.expect(b"Type svc/payments to remove svc/payments: ")
    wrong.send(b"svc/payment\n")
    assert wrong.finish() == 2 and b"did not match" in wrong.seen
    stopped = Terminal(["dev", "sensors", "remove"], plugins="authority")
    stopped.expect(b"Type dev/sensors to remove dev/sensors: ")
    stopped.proc.send_signal(signal.SIGINT)
    assert stopped.finish(timeout=15) == 130 and b"Traceback" not in stopped.seen

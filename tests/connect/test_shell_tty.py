"""`aster shell` in a real terminal (tmux): Tab completion and field-by-field prompts.

Every step is bounded in time, and the private tmux server is killed whatever happens.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid

import pytest

from aster_core.testing import aster_executable

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    def __init__(self, command: list[str], env: dict[str, str]):
        self.socket = f"aster-test-{uuid.uuid4().hex[:8]}"
        self.env = env
        self._tmux("new-session", "-d", "-s", "t", "-x", "150", "-y", "50", *command)

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], env=self.env, capture_output=True, text=True,
                              timeout=10, check=True).stdout

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "t", *keys)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", "t", "-l", text)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "t")

    def wait_for(self, needle: str, timeout: float = 20.0) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            text = self.screen()
            if needle in text:
                return text
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} did not appear; screen:\n{self.screen()}")

    def wait_for_prompt(self, prompt: str, timeout: float = 20.0) -> None:
        """Wait until the last line is an empty ``prompt`` (keys typed before it is drawn get mixed in)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            lines = [line for line in self.screen().splitlines() if line.strip()]
            if lines and lines[-1].rstrip() == prompt:
                return
            time.sleep(0.1)
        raise AssertionError(f"no empty {prompt!r} prompt; screen:\n{self.screen()}")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], env=self.env, capture_output=True, timeout=10)


@pytest.fixture
def terminal(server, aster_env):
    env = {**os.environ, "TERM": "xterm-256color"}
    term = Tmux([aster_executable(), "shell", server.address], env)
    try:
        term.wait_for("aster /services>")
        yield term
    finally:
        term.kill()


def test_tab_completion_lists_candidates(terminal):
    terminal.type("cd Ech")
    terminal.keys("Tab")
    screen = terminal.wait_for("EchoService@1/")
    assert "EchoService/" in screen                     # both candidates are listed
    terminal.keys("C-c")                                 # abandon the line
    terminal.wait_for_prompt("aster /services>")
    terminal.type("cd Gre")
    terminal.keys("Tab")
    terminal.wait_for("cd Greeter/")                     # a single candidate is filled in
    terminal.keys("Enter")
    terminal.wait_for("aster /services/Greeter>")
    terminal.type("./gr")
    terminal.keys("Tab")
    terminal.wait_for("./greet")
    terminal.type(" ")
    terminal.keys("Tab")
    terminal.wait_for("./greet name=")                   # field names complete too
    terminal.type("Tab")
    terminal.keys("Enter")
    terminal.wait_for("Hello, Tab! (v2)")


def test_prompts_for_each_field(terminal, aster_env):
    terminal.type("cd EchoService@1")
    terminal.keys("Enter")
    terminal.wait_for("aster /services/EchoService@1>")
    terminal.type("./count")
    terminal.keys("Enter")
    terminal.wait_for("n (int, default 0):")
    terminal.type("many")
    terminal.keys("Enter")
    terminal.wait_for("n must be int")                   # a bad value is asked again
    terminal.type("3")
    terminal.keys("Enter")
    terminal.wait_for("prefix (str, default 'item'):")
    terminal.type("row")
    terminal.keys("Enter")
    screen = terminal.wait_for('"text": "row-2"')        # the stream is shown as it arrives
    assert '"text": "row-0"' in screen and '"text": "row-1"' in screen
    terminal.type("exit")
    terminal.keys("Enter")
    end = time.monotonic() + 10
    history = aster_env / "shell_history"
    while time.monotonic() < end and not (history.exists() and "./count" in history.read_text()):
        time.sleep(0.1)
    assert "./count" in history.read_text()


def test_prompting_a_bytes_field_with_a_default(terminal):
    """Field-by-field prompts for `blob(name: str, data: bytes = b"")`: Enter keeps the bytes default."""
    terminal.type("cd EchoService@1")
    terminal.keys("Enter")
    terminal.wait_for("aster /services/EchoService@1>")
    terminal.type("./blob")
    terminal.keys("Enter")
    terminal.wait_for("name (str, default ''):")
    terminal.type("pic")
    terminal.keys("Enter")
    terminal.wait_for("data (bytes, default")
    terminal.keys("Enter")
    screen = terminal.wait_for('"kind": "bytes"')
    assert '"name": "pic"' in screen and '"size": 0' in screen
    assert "Error" not in screen and "Traceback" not in screen

"""What the host records: one :class:`PluginRecord` per entry point, one :class:`CommandEntry` per command.

Plain classes and a named tuple rather than dataclasses: this module is on the
start-up path, and generating dataclass methods costs more than the rest of it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .discovery import FoundPlugin


class PluginRecord:
    """What the host knows about one entry point (shown by ``aster plugins``)."""

    status: str     #: loaded | failed | disabled | shadowed | incompatible

    def __init__(self, found: FoundPlugin):
        self.entry_point, self.value = found.name, found.value
        self.distribution, self.version = found.distribution, found.version
        self.path, self.requires_core = found.dist_path, found.requires_core
        self.status = "loaded"
        self.error: str | None = None
        self.commands: list[str] = []
        self.shadowed: dict[str, str] = {}    #: command -> who holds the name
        self.hooks: list[str] = []
        self.unknown_hooks: list[str] = []
        self.module: Any = None

    @property
    def uninstall(self) -> str:
        return f"pip uninstall {self.distribution}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "distribution": self.distribution, "version": self.version,
            "entry_point": f"{self.entry_point} = {self.value}", "status": self.status,
            "commands": self.commands, "shadowed": self.shadowed, "hooks": self.hooks,
            "unknown_hooks": self.unknown_hooks, "requires_core": self.requires_core or None,
            "error": self.error, "path": self.path,
        }


class CommandEntry(NamedTuple):
    name: str
    help: str
    target: str
    owner: PluginRecord | None   #: None for built-ins
    hidden: bool = False         #: runs, but ``aster --help`` and completion leave it out

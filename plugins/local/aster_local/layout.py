"""Where a local mesh keeps its files, and the record ``local init`` leaves in its folder.

    DIR/local.toml            what init made: profile, root public key, the files below
    DIR/root.pub              the mesh root's public key (the authority trusts it)
    DIR/admin.identity        the admin's node key and bound credential (authority.admin)
    DIR/authority/            authority.db (SQLite), node.key (stable endpoint id)
    DIR/registry/             registry.db (SQLite), node.key
    DIR/up.lock               held by the running `aster local up` (its pid inside)

Which folder: ``--dir``, else ``ASTER_LOCAL_DIR``, else ``[local] dir`` of config.toml
(which init sets), else ``<home>/local``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aster_core.errors import NotFoundError, UsageError

RECORD = "local.toml"
ENV = "ASTER_LOCAL_DIR"
INIT_HINT = "run `aster local init` first (or pass --dir DIR of one that was)"


@dataclass(frozen=True)
class Layout:
    dir: Path

    @property
    def record(self) -> Path:
        return self.dir / RECORD

    @property
    def root_pub(self) -> Path:
        return self.dir / "root.pub"

    @property
    def admin_identity(self) -> Path:
        return self.dir / "admin.identity"

    def db(self, server: str) -> Path:
        return self.dir / server / f"{server}.db"

    def node_key(self, server: str) -> Path:
        return self.dir / server / "node.key"

    def read(self) -> dict[str, Any]:
        """The record init wrote; NotFoundError (exit 4) when there is none."""
        from aster_core.files import load_toml

        if not self.record.exists():
            raise NotFoundError(f"no local mesh in {self.dir} ({RECORD} is missing)", INIT_HINT)
        doc = load_toml(self.record)
        if not isinstance(doc.get("profile"), str):
            raise UsageError(f"{self.record} names no profile", "run `aster local init --out DIR` into a new folder")
        return doc


def default_dir() -> Path:
    from aster_core.home import aster_home

    return aster_home() / "local"


def chosen(explicit: str | None) -> Layout:
    """The local mesh's folder: ``--dir``, ``ASTER_LOCAL_DIR``, ``[local] dir``, ``<home>/local``."""
    if explicit:
        return Layout(Path(explicit).expanduser().absolute())
    if os.environ.get(ENV, "").strip():
        return Layout(Path(os.environ[ENV].strip()).expanduser().absolute())
    from aster_core.profiles import read_config

    table = read_config().get("local", {})
    value = table.get("dir") if isinstance(table, dict) else None
    if isinstance(value, str) and value.strip():
        return Layout(Path(value).expanduser().absolute())
    return Layout(default_dir())


def check_dir(text: str) -> str:
    """The ``check`` of ``local.dir``: an absolute path to a folder holding a local mesh."""
    from aster_core.configset import ONE_LINE
    from aster_core.text import check_text

    check_text(text.strip(), field="local.dir", max_length=4096, hint=ONE_LINE)
    layout = Layout(Path(text.strip()).expanduser().absolute())
    layout.read()
    return str(layout.dir)

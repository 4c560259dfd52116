"""A server's node key: the stable identity that keeps its endpoint id across restarts.

``state_dir(server)`` is the server's default home (node key, SQLite file);
``load_node_key(identity, default_dir)`` reads the key an operator passes with ``--identity``
(a ``.aster-identity`` TOML file, a JSON object with ``secret_key``, or the bare base64 key) or
creates ``<default_dir>/node.key`` (0600, in folders created 0700) on the first start. A key
file readable by others is set to 0600 with a warning.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from aster_core.errors import AsterError, UsageError
from aster_core.home import aster_home

LOG = logging.getLogger("aster_server.nodekey")


def state_dir(server: str) -> Path:
    """``$ASTER_HOME/servers/<server>`` (not created): a server's default home for its
    node key and SQLite file."""
    return aster_home() / "servers" / server


_KEY_HINT = ("pass an identity file with [node] secret_key, or a path that does not exist yet "
             "(a new key is written there)")


def _parse_key_file(path: Path, text: str) -> bytes:
    stripped = text.strip()
    raw: Any = None
    if stripped.startswith("{"):
        from aster_core.jsonlimits import loads_limited

        doc = loads_limited(stripped, field=str(path), max_bytes=64 * 1024, hint=_KEY_HINT)
        raw = doc.get("secret_key") if isinstance(doc, dict) else None
    elif "secret_key" in stripped or stripped.startswith("["):
        from aster_core.files import parse_toml

        node = parse_toml(text, str(path), _KEY_HINT).get("node")
        raw = node.get("secret_key") if isinstance(node, dict) else None
    else:
        raw = stripped
    try:
        key = base64.b64decode(raw, validate=True) if isinstance(raw, str) else b""
    except ValueError:
        key = b""
    if len(key) != 32:
        raise UsageError(f"{path} holds no node key (base64 of 32 bytes)", _KEY_HINT)
    return key


def _tighten(path: Path) -> None:
    """A key file readable by others is set to 0600, with one warning line."""
    from aster_core.filemodes import tighten

    try:
        before = tighten(path)
    except OSError as exc:
        LOG.warning("%s holds a node key and is readable by others; it could not be set to 0600 (%s)",
                    path, exc.strerror or exc)
        return
    if before is not None:
        LOG.warning("%s holds a node key and had mode %04o, readable by others; set to 0600", path, before)


def load_node_key(identity: str | os.PathLike[str] | None, default_dir: str | os.PathLike[str]) -> tuple[bytes, Path, bool]:
    """``(32-byte secret key, the file it lives in, created)``.

    ``identity`` (``--identity FILE``) may be a ``.aster-identity`` TOML file (its ``[node]
    secret_key``), a JSON object with ``secret_key``, or a file holding the base64 key alone.
    Without ``identity`` the key lives in ``<default_dir>/node.key``. A missing file is created
    (mode 0600, ``[node] secret_key = ...``; missing folders 0700) with a fresh key, so the next
    start has the same endpoint id. A key file readable by others is set to 0600 (one warning).
    """
    path = Path(identity).expanduser() if identity else Path(default_dir) / "node.key"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory", "pass --identity FILE") from None
    except OSError as exc:
        raise AsterError(f"cannot read {path}: {exc.strerror or exc}", "check the file's permissions") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not a text file", "pass an identity file with [node] secret_key") from None
    if text is not None:
        key = _parse_key_file(path, text)
        _tighten(path)
        return key, path, False
    key = secrets.token_bytes(32)
    from aster_core.filemodes import private_dir
    from aster_core.files import atomic_write

    try:
        private_dir(path.parent)
    except OSError as exc:
        raise AsterError(f"cannot create {path.parent}: {exc.strerror or exc}",
                         "pass --identity FILE in a writable directory") from None
    atomic_write(path, f'# node key of an aster server (keep it secret)\n[node]\nsecret_key = "{base64.b64encode(key).decode()}"\n',
                 mode=0o600)
    return key, path, True

"""A producer whose manifests arrive late: for readers that must wait or catch up.

Name any generated scale service through this module instead of
``tests.support.scale`` and the server publishes the manifests of the services
listed in ``ASTER_HARNESS_LATE_SERVICES`` (comma-separated names; default: all)
``ASTER_HARNESS_MANIFEST_DELAY`` seconds (default 3) after it is ready::

    start_server(["tests.support.late:Svc0", "tests.support.late:Svc1"],
                 env={"ASTER_HARNESS_LATE_SERVICES": "Svc1", "ASTER_HARNESS_MANIFEST_DELAY": "4"})

Everything else (the service list in the admission answer, ``contracts/`` and
``services/`` keys, calls) is there at once; only the ``manifests/<id>`` entries
of those services are written to the registry document later, by the runtime's
own document handle. How: importing this module (which ``build_services`` does
before the server is built) wraps the runtime's ``docs_client`` so the registry
document it creates holds those writes back. A delay of ``never`` never writes them.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import aster.runtime as _runtime

from . import scale

_DELAY_TEXT = os.environ.get("ASTER_HARNESS_MANIFEST_DELAY", "3").strip()
DELAY = None if _DELAY_TEXT == "never" else float(_DELAY_TEXT or 3)
LATE = {n.strip() for n in os.environ.get("ASTER_HARNESS_LATE_SERVICES", "").split(",") if n.strip()}


class _HeldBackDoc:
    """The registry document, holding back the chosen services' ``manifests/`` writes."""

    def __init__(self, doc: Any) -> None:
        self._doc = doc
        self._held: dict[str, tuple[Any, bytes, bytes]] = {}  # contract id -> (author, key, value)
        self._tasks: list[asyncio.Task] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._doc, name)

    async def set_bytes(self, author: Any, key: bytes, value: bytes) -> Any:
        text = bytes(key).decode("utf-8", "replace")
        if text.startswith("manifests/"):
            self._held[text.split("/", 1)[1]] = (author, key, value)
            return None
        if text.startswith("services/") and "/versions/" in text:
            name = text.split("/")[1]
            held = self._held.pop(bytes(value).decode(), None)
            if held is not None:
                if LATE and name not in LATE:
                    await self._doc.set_bytes(*held)
                elif DELAY is not None:
                    self._tasks.append(asyncio.ensure_future(self._later(held)))
        return await self._doc.set_bytes(author, key, value)

    async def _later(self, held: tuple[Any, bytes, bytes]) -> None:
        await asyncio.sleep(DELAY or 0)
        await self._doc.set_bytes(*held)


class _Docs:
    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def create(self, *args: Any, **kwargs: Any) -> Any:
        return _HeldBackDoc(await self._real.create(*args, **kwargs))


if not getattr(_runtime, "_aster_harness_late", False):
    _real_docs_client = _runtime.docs_client
    _runtime.docs_client = lambda node: _Docs(_real_docs_client(node))  # type: ignore[assignment]
    _runtime._aster_harness_late = True  # type: ignore[attr-defined]


def __getattr__(name: str) -> type:
    return getattr(scale, name)

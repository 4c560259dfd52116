"""Helpers shared by the trust and enroll tests: running the CLI, checking errors, talking to Vault."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aster_core.testing import assert_clean_error, invoke

from tests.support.aio import run

FAMILIES = ["trust", "enroll"]


def aster(*args: str, cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """``aster ARGS`` with only our two families loaded, in this process (``invoke``: the same
    entry point, exit codes and output as the installed script; what needs a process of its
    own, racing writers or SIGKILL, starts one itself)."""
    return invoke(list(args), plugins=FAMILIES, cwd=cwd)


def ok(*args: str, cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    result = aster(*args, cwd=cwd)
    assert result.returncode == 0, f"aster {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def snapshot(directory: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every file under ``directory`` with its bytes, mode and mtime: to prove nothing changed."""
    found = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            stat = path.stat()
            found[str(path.relative_to(directory))] = (path.read_bytes(), stat.st_mode, stat.st_mtime_ns)
    return found


VAULT_METHODS = ("ping", "read", "write", "admin")


async def vault_outcomes(address: str, **client_kwargs: Any) -> dict[str, str] | str:
    """Connect with the runtime's own AsterClient and call every Vault method.

    Returns ``{"method": "OK" | status name}``, or ``"REFUSED"`` when admission fails.
    """
    from aster import AsterClient, RpcError
    from aster.runtime import AdmissionDeniedError

    from tests.support.services import Vault, VaultRequest

    client = AsterClient(address=address, **client_kwargs)
    try:
        try:
            await asyncio.wait_for(client.connect(), 20)
        except AdmissionDeniedError:
            return "REFUSED"
        vault = await client.client(Vault)
        outcomes = {}
        for method in VAULT_METHODS:
            try:
                await asyncio.wait_for(getattr(vault, method)(VaultRequest(key="greeting", value="hi")), 10)
                outcomes[method] = "OK"
            except RpcError as exc:
                outcomes[method] = exc.code.name
        return outcomes
    finally:
        await asyncio.wait_for(client.close(), 10)


def outcomes(address: str, **client_kwargs: Any) -> dict[str, str] | str:
    return run(vault_outcomes(address, **client_kwargs), timeout=90)


@pytest.fixture(scope="module")
def vault(tmp_path_factory):
    """``(server, keydir)``: a real AsterServer (trusted mode) serving Vault, trusting a
    root made by our keygen (``keydir/root.key``, ``keydir/root.pub`` via ``--out-key``)."""
    from tests.support.server import start_server

    keydir = tmp_path_factory.mktemp("vault-root")
    ok("trust", "keygen", "--out-key", str(keydir / "root.key"))
    with start_server(["vault"], root_pubkey_file=keydir / "root.pub", max_lifetime=600) as server:
        assert server.info["mode"] != "open-gate", server.info
        yield server, keydir


def assert_rejected_unchanged(workdir: Path, args: tuple[str, ...], code: int, needle: str) -> None:
    """``aster ARGS`` in ``workdir`` fails cleanly with ``code`` and creates or changes no file there."""
    before = snapshot(workdir)
    assert_clean_error(aster(*args, cwd=workdir), code, needle)
    assert snapshot(workdir) == before

"""Server settings a test needs to be quick: the resend cooldown, set by ``--resend-cooldown``
or ``ASTER_REGISTRY_RESEND_COOLDOWN``, holds for exactly that long (a real server on SQLite);
and paging past the maximum is clamped, not refused."""

from __future__ import annotations

import time

from aster_registry import wire as w
from tests.support.aio import run
from tests.support.registry import start_registry

from .support import Key, RegistryClient, expect_error

P, PUB = "ProfileService", "PublicationService"


def _resend_after_join(registry, smtp, cooldown: int) -> None:
    key, email = Key(), "cool@example.org"

    async def body():
        async with RegistryClient(registry.address) as c:
            await c.signed(P, "join", key, handle="cool", email=email, announcements=False)
            sent = time.monotonic()
            smtp.code_for(email)
            await expect_error(c.signed(P, "resend_verification", key, handle="cool"), "RESOURCE_EXHAUSTED",
                               f"less than {cooldown} s ago")
            time.sleep(max(0.0, cooldown + 0.2 - (time.monotonic() - sent)))
            await c.signed(P, "resend_verification", key, handle="cool")
            assert smtp.code_for(email, after=1)

    run(body(), timeout=60)


def test_resend_cooldown_option(smtp, tmp_path):
    with start_registry(str(tmp_path / "r.db"), home=tmp_path / "home", smtp=smtp,
                        extra=("--resend-cooldown", "2")) as registry:
        _resend_after_join(registry, smtp, 2)
    assert "Traceback" not in registry.log()


def test_resend_cooldown_environment_and_clamped_paging(smtp, tmp_path):
    with start_registry(str(tmp_path / "r.db"), home=tmp_path / "home", smtp=smtp,
                        env={"ASTER_REGISTRY_RESEND_COOLDOWN": "3"}) as registry:
        _resend_after_join(registry, smtp, 3)

        async def pages():
            async with RegistryClient(registry.address) as c:
                found = await c.call(PUB, "discover", w.DiscoverRequest(query="", limit=w.MAX_LIMIT + 400))
                cards = await c.call(PUB, "list_directory_handles", w.ListDirectoryHandlesRequest(limit=10_000))
                await expect_error(c.call(PUB, "discover", w.DiscoverRequest(query="", limit=-1)),
                                   "INVALID_ARGUMENT", "limit")
                await expect_error(c.call(PUB, "discover", w.DiscoverRequest(query="", offset=-3)),
                                   "INVALID_ARGUMENT", "offset")
                return found, cards

        found, cards = run(pages(), timeout=60)
        assert found.total == 0 and found.services == [] and cards.handles == []
    assert "Traceback" not in registry.log()


def test_resend_cooldown_must_be_seconds(tmp_path):
    from aster_core.testing import run_aster

    result = run_aster(["registry", "serve", "--dev-mail", "--db", str(tmp_path / "r.db"), "--resend-cooldown", "soon"],
                       timeout=60)
    assert result.returncode == 2 and "--resend-cooldown" in result.stderr and "Traceback" not in result.stderr


def test_read_limit_option(tmp_path):
    """``--read-limit 3``: a caller's fourth unsigned read within the minute is refused (counted in
    memory, so at once), another caller's reads are not."""
    with start_registry(str(tmp_path / "r.db"), home=tmp_path / "home", dev_mail=True,
                        extra=("--read-limit", "3")) as registry:
        async def reads():
            async with RegistryClient(registry.address) as c:
                for _ in range(3):
                    await c.call(PUB, "discover", w.DiscoverRequest(query="task"))
                msg = await expect_error(c.call(PUB, "discover", w.DiscoverRequest(query="task")),
                                         "RESOURCE_EXHAUSTED", "3 per 1 min")
            async with RegistryClient(registry.address) as other:  # another endpoint: its own count
                await other.call(PUB, "discover", w.DiscoverRequest(query="task"))
            return msg

        assert "retry in" in run(reads(), timeout=60)
    assert "Traceback" not in registry.log()

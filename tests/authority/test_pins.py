"""Pins of decision-chain heads (client/pins.py) and the signing cap's setting, without a server:
the file (0600 in a 0700 folder, per root and deployment), a chain that extends the pin, a
rollback and a fork (one `Error:` line naming both heads), and a pin that never moves back."""

from __future__ import annotations

import json
import stat

import pytest

from aster_authority.client import pins, settings
from aster_authority.client.pins import PinMismatch
from aster_authority.domain.decisions import Head
from aster_core.errors import UsageError

ROOT = "ab" * 32
OTHER_ROOT = "cd" * 32


def chain(*hashes: str):
    """``hash_at`` of a chain whose records (seq 1, 2, ...) have these hashes."""
    return lambda seq: hashes[seq - 1] if 1 <= seq <= len(hashes) else None


def test_first_pin_is_written_private_and_read_back(aster_env):
    assert pins.pinned(ROOT, "payments") is None
    pins.advance(ROOT, "payments", Head(2, "h2"), chain("h1", "h2"), ref="svc/payments", now=100)
    path = aster_env / "authority" / "pins.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text())["pins"] == {ROOT: {"payments": {"seq": 2, "hash": "h2", "verified_at": 100}}}
    assert pins.pinned(ROOT, "payments") == Head(2, "h2")
    # per root key and deployment
    assert pins.pinned(OTHER_ROOT, "payments") is None and pins.pinned(ROOT, "sensors") is None


def test_a_chain_that_extends_the_pin_moves_it_forward():
    pins.advance(ROOT, "payments", Head(2, "h2"), chain("h1", "h2"), ref="svc/payments")
    longer = chain("h1", "h2", "h3")
    pins.check_extends(pins.pinned(ROOT, "payments"), Head(3, "h3"), longer, ref="svc/payments")
    pins.advance(ROOT, "payments", Head(3, "h3"), longer, ref="svc/payments")
    assert pins.pinned(ROOT, "payments") == Head(3, "h3")
    # the same head again is fine too
    pins.check_extends(Head(3, "h3"), Head(3, "h3"), longer, ref="svc/payments")


def test_rollback_names_both_heads():
    pin = Head(3, "c" * 64)
    with pytest.raises(PinMismatch) as caught:
        pins.check_extends(pin, Head(2, "b" * 64), chain("a" * 64, "b" * 64), ref="svc/payments")
    err = caught.value
    assert err.kind == "rollback" and err.exit_code == 1
    assert "seq 3 (cccccccccccccccc...)" in err.message and "seq 2 (bbbbbbbbbbbbbbbb...)" in err.message
    assert "svc/payments" in err.message and "nothing was signed" in err.message
    assert "authority log" in err.hint and "pins.json" in err.hint
    # no record at all is a rollback too
    with pytest.raises(PinMismatch, match="no record at all"):
        pins.check_extends(pin, None, chain(), ref="svc/payments")


def test_fork_at_the_pinned_seq_or_before_the_head():
    pin = Head(2, "b" * 64)
    with pytest.raises(PinMismatch) as same_seq:
        pins.check_extends(pin, Head(2, "x" * 64), chain("a" * 64, "x" * 64), ref="dev/sensors")
    assert same_seq.value.kind == "fork"
    assert "seq 2 (xxxxxxxxxxxxxxxx...)" in same_seq.value.message
    assert "seq 2 (bbbbbbbbbbbbbbbb...)" in same_seq.value.message
    assert "aster dev sensors authority log" in same_seq.value.hint
    with pytest.raises(PinMismatch) as later:  # a longer chain whose record at the pin differs
        pins.check_extends(pin, Head(4, "d" * 64), chain("a" * 64, "y" * 64, "c" * 64, "d" * 64), ref="dev/sensors")
    assert later.value.kind == "fork" and "head seq 4" in later.value.message


def test_advance_refuses_a_chain_that_does_not_extend_and_never_moves_back():
    pins.advance(ROOT, "payments", Head(3, "h3"), chain("h1", "h2", "h3"), ref="svc/payments")
    with pytest.raises(PinMismatch):
        pins.advance(ROOT, "payments", Head(3, "evil"), chain("h1", "h2", "evil"), ref="svc/payments")
    # another process pinned further meanwhile: an earlier head of ours does not move it back
    assert pins.advance(ROOT, "payments", Head(2, "h2"), chain("h1", "h2"), ref="svc/payments") == Head(3, "h3")
    assert pins.pinned(ROOT, "payments") == Head(3, "h3")


def test_a_damaged_pin_file_is_one_error(aster_env):
    path = aster_env / "authority" / "pins.json"
    path.parent.mkdir(parents=True)
    path.write_text("[1, 2]")
    with pytest.raises(Exception) as caught:
        pins.pinned(ROOT, "payments")
    assert "pin file" in caught.value.message
    # a damaged entry is not "no pin": that would switch the check off
    path.write_text(json.dumps({"format": 1, "pins": {ROOT: {"payments": {"seq": "12", "hash": "h"}}}}))
    with pytest.raises(Exception, match="the pin of payments is damaged"):
        pins.pinned(ROOT, "payments")
    with pytest.raises(Exception, match="damaged"):
        pins.advance(ROOT, "payments", Head(1, "h1"), chain("h1"), ref="svc/payments")
    assert pins.pinned(ROOT, "sensors") is None  # other entries still read


def test_max_credential_ttl_setting(monkeypatch, aster_env):
    assert settings.max_credential_ttl() == 30 * 86400
    monkeypatch.setenv("ASTER_AUTHORITY_MAX_CREDENTIAL_TTL", "7d")
    assert settings.max_credential_ttl() == 7 * 86400
    monkeypatch.delenv("ASTER_AUTHORITY_MAX_CREDENTIAL_TTL")
    aster_env.mkdir(parents=True, exist_ok=True)
    (aster_env / "config.toml").write_text('[authority]\nmax_credential_ttl = "12h"\n')
    assert settings.max_credential_ttl() == 12 * 3600
    monkeypatch.setenv("ASTER_AUTHORITY_MAX_CREDENTIAL_TTL", "forever")
    with pytest.raises(UsageError, match="max_credential_ttl"):
        settings.max_credential_ttl()


def test_a_decision_of_this_machine_pins_its_record_and_only_moves_forward():
    pins.record_own(ROOT, "payments", Head(5, "h5"))
    assert pins.pinned(ROOT, "payments") == Head(5, "h5")
    pins.record_own(ROOT, "payments", Head(4, "h4"))  # an older head: kept as it was
    assert pins.pinned(ROOT, "payments") == Head(5, "h5")
    # the authority later drops that decision: a rollback
    with pytest.raises(PinMismatch, match="rollback"):
        pins.check_extends(pins.pinned(ROOT, "payments"), Head(4, "h4"), chain("h1", "h2", "h3", "h4"),
                           ref="svc/payments")


def test_config_set_checks_the_cap(aster_env):
    from aster_core.testing import assert_clean_error, invoke

    assert_clean_error(invoke(["config", "set", "authority.max_credential_ttl", "forever"]), 2, "forever")
    assert invoke(["config", "set", "authority.max_credential_ttl", "7d"]).returncode == 0
    assert settings.max_credential_ttl() == 7 * 86400

"""Provisioning never loses a device secret whose registration outcome is unknown, against a real
authority on SQLite and PostgreSQL.

Another writer holds the deployment's row longer than the client's timeout: the client gets no
answer and keeps the bundle (one Error line saying how to check and how to finish); the server,
once it gets the row, finds the call's deadline passed and rolls the registration back instead
of committing devices whose secrets the client was told failed. `--from-bundles` then registers
the device, and doing it again is a no-op. A refusal (nothing registered) still deletes what
the run wrote."""

from __future__ import annotations

import contextlib
import json
import stat
import time
from typing import Iterator

import sqlalchemy as sa

from aster_core.testing import assert_clean_error

from aster_authority.server import tables

TIMEOUT = "3s"


@contextlib.contextmanager
def holding_row(url: str, deployment_id: str) -> Iterator[None]:
    """Another writer: a transaction holding the deployment's row (as every write of the
    authority takes it first) for as long as the block runs."""
    from aster_server import storage

    engine = storage.create_engine(url)
    try:
        with storage.transaction(engine) as conn:
            assert storage.lock(conn, tables.deployments, {"deployment_id": deployment_id}) is not None
            yield
    finally:
        engine.dispose()


def device_rows(url: str) -> list[tuple]:
    from aster_server import storage

    engine = storage.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.select(tables.instances.c.instance_id,
                                                             tables.instances.c.state))]
    finally:
        engine.dispose()


def wait_for(check, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def settled(m) -> bool:
    """The server's late registration ended: rolled back (its log says so) or committed."""
    return wait_for(lambda: "rolled back DeviceAdmin.register" in m.server.log.read_text()
                    or bool(device_rows(m.server.db)))


def test_a_registration_past_its_deadline_is_rolled_back_and_the_bundle_kept(mesh):
    m = mesh
    key = str(m.root.key_file)
    m.ok("dev", "sensors", "create")
    started = time.monotonic()
    with holding_row(m.server.db, "sensors"):
        late = m.aster("dev", "sensors", "provision", "--out", "hall.bundle.json", "--name", "hall-1",
                       "--root-key", key, ASTER_AUTHORITY_TIMEOUT=TIMEOUT)
        held_for = time.monotonic() - started
    assert held_for > 3  # the writer held the row past the client's timeout
    line = assert_clean_error(late, 7, "may or may not be registered", "kept in hall.bundle.json",
                              "aster dev sensors instances", "provision --from-bundles hall.bundle.json",
                              "safe to run again")
    assert "Traceback" not in line
    bundle = m.tmp / "hall.bundle.json"
    assert bundle.is_file() and stat.S_IMODE(bundle.stat().st_mode) == 0o600  # the secret is still here
    doc = json.loads(bundle.read_text())

    # the server got the row once the writer let go, found the deadline passed and rolled back
    assert settled(m)
    assert device_rows(m.server.db) == []  # no device whose secret the client might have dropped
    assert "rolled back DeviceAdmin.register" in m.server.log.read_text()
    assert m.ok("dev", "sensors", "instances")["items"] == []

    # finishing as the hint says: registered now, and again is a no-op (same bundle, same keys)
    first = m.ok("dev", "sensors", "provision", "--from-bundles", "hall.bundle.json", "--root-key", key)
    assert first["already"] == 0 and [d["instance_id"] for d in first["devices"]] == [doc["instance_id"]]
    assert first["devices"][0]["metadata"] == {"name": "hall-1"}
    again = m.ok("dev", "sensors", "provision", "--from-bundles", "hall.bundle.json", "--root-key", key)
    assert again["already"] == 1 and again["devices"][0]["already"] is True
    assert again["devices"][0]["expires_at"] == first["devices"][0]["expires_at"]  # kept as it was
    assert device_rows(m.server.db) == [(doc["instance_id"], "registered")]
    # and the kept bundle activates the device
    activated = m.ok("dev", "activate", "--bundle", "hall.bundle.json", "--identity", "hall.identity")
    assert activated["state"] == "activated" and activated["instance_id"] == doc["instance_id"]
    # registering an activated device's bundle again changes nothing either
    assert m.ok("dev", "sensors", "provision", "--from-bundles", "hall.bundle.json", "--root-key",
                key)["devices"][0]["already"] is True
    assert device_rows(m.server.db) == [(doc["instance_id"], "activated")]


def test_a_batch_without_an_answer_keeps_its_bundles_and_finishes_from_the_folder(mesh):
    m = mesh
    key = str(m.root.key_file)
    m.ok("dev", "dock", "create")
    with holding_row(m.server.db, "dock"):
        late = m.aster("dev", "dock", "provision", "--count", "3", "--out-dir", "bundles", "--name", "dock",
                       "--root-key", key, ASTER_AUTHORITY_TIMEOUT=TIMEOUT)
    assert_clean_error(late, 7, "devices 1-3 of 3", "may or may not be registered", "kept in bundles",
                       "aster dev dock instances --all", "provision --from-bundles bundles")
    kept = sorted((m.tmp / "bundles").glob("*.bundle.json"))
    assert len(kept) == 3
    assert settled(m) and device_rows(m.server.db) == []
    done = m.ok("dev", "dock", "provision", "--from-bundles", "bundles", "--root-key", key)
    assert done["already"] == 0 and len(done["devices"]) == 3
    assert sorted(d["metadata"]["name"] for d in done["devices"]) == ["dock-1", "dock-2", "dock-3"]
    index = (m.tmp / "bundles" / "index.csv").read_text().splitlines()
    assert len(index) == 4 and sorted(line.split(",")[-1] for line in index[1:]) == [p.name for p in kept]
    assert m.ok("dev", "dock", "provision", "--from-bundles", "bundles", "--root-key", key)["already"] == 3
    assert len(m.ok("dev", "dock", "instances")["items"]) == 3


def test_the_batch_made_ahead_of_one_without_an_answer_is_deleted_and_the_rest_left_to_provision(mesh):
    """The next batch is signed and written while one registers; when that one gets no answer,
    the next was never sent, so its bundles go and the error counts them among the rest."""
    from aster_authority.client.pipeline import batches_of
    from aster_authority.client.provisioning import PIPELINE_BATCH

    m = mesh
    key = str(m.root.key_file)
    m.ok("dev", "yard", "create")
    count = PIPELINE_BATCH + 5
    first, ahead = (len(b) for b in batches_of(count, PIPELINE_BATCH)[:2])  # the first call, the batch made ahead
    with holding_row(m.server.db, "yard"):
        late = m.aster("dev", "yard", "provision", "--count", str(count), "--out-dir", "bundles", "--root-key", key,
                       ASTER_AUTHORITY_TIMEOUT=TIMEOUT)
    assert_clean_error(late, 7, f"devices 1-{first} of {count}", "kept in bundles",
                       f"provision the remaining {count - first}")
    kept = sorted((m.tmp / "bundles").glob("*.bundle.json"))
    assert ahead and len(kept) == first and sorted(p.name for p in (m.tmp / "bundles").iterdir()) == \
        [p.name for p in kept]
    assert settled(m) and device_rows(m.server.db) == []
    done = m.ok("dev", "yard", "provision", "--from-bundles", "bundles", "--root-key", key)
    assert done["already"] == 0 and len(done["devices"]) == first


def test_a_refused_registration_deletes_what_it_wrote_and_bundles_are_checked(sqlite_mesh, tmp_path):
    """A refusal is an answer: nothing was registered, so the bundle this run wrote goes. And the
    same endpoint registered with another key, or in another deployment, is refused."""
    from aster_authority import wire
    from aster_authority.client.connection import Authority
    from aster_authority.domain import devices

    m = sqlite_mesh
    key = str(m.root.key_file)
    m.ok("dev", "sensors", "create")
    m.ok("dev", "sensors", "disable")
    assert_clean_error(m.aster("dev", "sensors", "provision", "--out", "x.bundle.json", "--root-key", key), 1,
                       "disabled")
    assert not (m.tmp / "x.bundle.json").exists()
    m.ok("dev", "sensors", "enable")
    m.ok("dev", "other", "create")
    one = m.ok("dev", "sensors", "provision", "--out", "one.bundle.json", "--root-key", key)["devices"][0]
    # a bundle of another deployment, and options that do not go with --from-bundles
    assert_clean_error(m.aster("dev", "other", "provision", "--from-bundles", "one.bundle.json", "--root-key", key),
                       2, "a bundle of dev/sensors, not dev/other")
    assert_clean_error(m.aster("dev", "sensors", "provision", "--from-bundles", "one.bundle.json", "--name", "x"),
                       2, "--from-bundles", "--name")
    assert_clean_error(m.aster("dev", "sensors", "provision", "--from-bundles", "missing.json", "--root-key", key),
                       4, "missing.json")
    # the same endpoint with another activation key: refused, nothing changed
    bundle = devices.parse_bundle(json.loads((m.tmp / "one.bundle.json").read_text()), "one")
    from aster_trust import credentials
    from aster_trust.keys import load_root_key_file

    from aster_authority.client.signer import decide

    with Authority.open(m.server.address, str(m.admin_identity)) as auth:
        template = auth.call(wire.DEVICE_ADMIN, "template", wire.DeviceRef("sensors"))
        cred = credentials.sign(load_root_key_file(key), template["type"], expires_at=template["expires_at"],
                                attributes=template["attributes"], endpoint_id=bundle.keys.endpoint_id)
        doc = {"endpoint_id": bundle.keys.endpoint_id, "activation_key": devices.b64url(b"\1" * 32),
               "metadata": {}, "credential": cred.to_dict()}
        try:
            decide(auth, "sensors", "device_register", {"endpoints": [bundle.keys.endpoint_id]}, lambda record: (
                auth.call(wire.DEVICE_ADMIN, "register", wire.RegisterDevices("sensors", [json.dumps(doc)], record))))
            raise AssertionError("registered the same endpoint with another activation key")
        except Exception as exc:  # noqa: BLE001 - the refusal is what is checked
            assert getattr(exc, "status", None) == "FAILED_PRECONDITION" and "already instance" in str(exc), exc
    assert device_rows(m.server.db) == [(one["instance_id"], "registered")]


def test_the_timeout_setting_is_checked_before_any_network(tmp_path):
    from aster_core.testing import invoke

    out = invoke(["dev", "sensors", "instances"], cwd=tmp_path,
                 env={"ASTER_AUTHORITY_ADDR": "aster1qqqq", "ASTER_AUTHORITY_TIMEOUT": "soon"})
    assert_clean_error(out, 2, "ASTER_AUTHORITY_TIMEOUT", "invalid duration")


def test_the_registration_calls_cover_every_device_once_the_first_ones_smaller():
    from aster_authority.client.pipeline import batches_of

    for total in (1, 61, 62, 250, 251, 437, 1000, 100_000):
        calls = batches_of(total, 250)
        assert [n for r in calls for n in r] == list(range(total)), total
        assert all(1 <= len(r) <= 250 for r in calls)
        if total > 250:  # the first call leaves after a quarter of a batch is made, the next after half
            assert [len(r) for r in calls[:2]] == [62, 125] or (len(calls) == 2 and len(calls[0]) == 62)
    assert [len(r) for r in batches_of(1000, 250)] == [62, 125, 250, 250, 250, 63]


def test_the_switch_interval_is_short_while_any_pipeline_runs_and_given_back_after():
    import sys

    from aster_authority.client.pipeline import SWITCH_INTERVAL, Pipeline

    before = sys.getswitchinterval()
    first, second = Pipeline(lambda job: None, []), Pipeline(lambda job: None, [])
    with first:
        assert sys.getswitchinterval() == SWITCH_INTERVAL < before
        second.__enter__()
    assert sys.getswitchinterval() == SWITCH_INTERVAL  # the second still runs
    second.__exit__(None, None, None)
    assert sys.getswitchinterval() == before

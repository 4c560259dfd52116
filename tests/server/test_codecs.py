"""aster_server.codecs: the runtime's codec warmed, so a list of messages is not a serializer
rebuilt per entry; a server built by lifecycle.build_server answers with a warmed codec."""

# no `from __future__ import annotations`: the runtime reads the real annotation objects

import dataclasses
import time
from dataclasses import dataclass, field

from aster import rpc, service, wire_type
from aster.codec import ForyCodec

from aster_server.codecs import server_codec, warm
from tests.support.aio import run


@wire_type("astertest/codecs/Entry")
@dataclass
class Entry:
    handle: str = ""
    name: str = ""
    description: str = ""
    version: int = 0
    count: int = 0


@wire_type("astertest/codecs/Listing")
@dataclass
class Listing:
    total: int = 0
    entries: list[Entry] = field(default_factory=list)


@wire_type("astertest/codecs/Ask")
@dataclass
class Ask:
    query: str = ""


@wire_type("astertest/codecs/NoDefaults")
@dataclass
class NoDefaults:
    needed: str


@service(name="CodecListing", version=1)
class CodecListing:
    @rpc
    async def listing(self, req: Ask) -> Listing:
        return LISTING


LISTING = Listing(total=20, entries=[Entry(f"h{i}", f"Svc{i}", "a service " * 4, 1, i) for i in range(20)])


def _dataclasses(codec) -> int:
    return sum(1 for t in codec.registered_types if dataclasses.is_dataclass(t))


def _encode_ms(codec, obj, rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        codec.encode(obj)
        best = min(best, time.perf_counter() - t)
    return best * 1000


def test_warm_makes_lists_cheap_and_round_trips():
    cold = ForyCodec(types=[Listing, Ask])
    cold.encode(LISTING)  # Listing first used before Entry: its list keeps rebuilding Entry's serializer
    warmed = ForyCodec(types=[Listing, Ask])
    assert warm(warmed) == _dataclasses(warmed)  # Entry, Listing, Ask and the runtime's own
    assert warmed.decode(warmed.encode(LISTING), Listing) == LISTING
    # measured here: about 4.5 ms cold, 0.02 ms warmed; a factor 5 holds on any load
    assert _encode_ms(warmed, LISTING) * 5 < _encode_ms(cold, LISTING)
    assert cold.decode(warmed.encode(LISTING), Listing) == LISTING  # the same bytes on the wire


def test_warm_only_roots_and_what_they_hold():
    codec = ForyCodec(types=[Listing, Ask])
    assert warm(codec, [Listing]) == 2  # Listing and Entry, not Ask
    assert warm(codec, [Listing]) == 2  # twice is harmless
    assert _encode_ms(codec, LISTING) < 1.0


def test_warm_skips_what_it_cannot_build_and_codecs_without_types():
    codec = ForyCodec(types=[NoDefaults, Listing])
    assert warm(codec) == _dataclasses(codec) - 1  # NoDefaults() needs a value: skipped, the others warmed
    assert codec.decode(codec.encode(NoDefaults("x")), NoDefaults) == NoDefaults("x")
    assert warm(object()) == 0
    from aster.json_codec import JsonProxyCodec

    assert warm(JsonProxyCodec()) == 0


def test_build_server_warms_the_codec_the_server_answers_with(tmp_path):
    from aster_server.lifecycle import ServerSpec, build_server

    async def body():
        server = await build_server(ServerSpec(name="codec-test", services=[CodecListing()], node_key=b"\x07" * 32),
                                    tmp_path)
        try:
            codec = server_codec(server)
            assert isinstance(codec, ForyCodec)  # the runtime keeps it where server_codec looks
            assert Listing in codec.registered_types and Entry in codec.registered_types
            assert _encode_ms(codec, LISTING) < 1.0  # warmed at start: about 0.02 ms, 4.5 ms if not
        finally:
            await server.close()

    run(body(), timeout=60)

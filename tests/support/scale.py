"""Generated services for scale tests and benchmarks: many services, many methods.

Every name of the form ``Svc<N>`` (or ``Svc<N>x<M>`` for M methods) is a service
class built on first use, so a server offering 100 services is started with
specs alone::

    start_server([f"tests.support.scale:Svc{i}" for i in range(100)])

``Svc<N>`` has 10 unary methods ``m0`` .. ``m9``; each takes its own request
type ``{text: str, n: int}`` and answers ``{text, n, service, method}`` (the text
repeated ``n`` times). Types are tagged ``asterscale/Svc<N>/M<k>Request`` etc.,
so contract ids do not depend on the module name. ``Payload`` has one method,
``sized({size}) -> {text}``, whose answer holds ``size`` characters (for
response-size benchmarks; JSON mode cannot carry bytes in responses).
"""

import re
from dataclasses import field, make_dataclass
from typing import Any

from aster import rpc, service, wire_type

NS = "asterscale"
METHODS = 10
_NAME = re.compile(r"Svc(\d+)(?:x(\d+))?")
_BUILT: dict[str, type] = {}


def _message(tag: str, fields: list[tuple[str, type, Any]]) -> type:
    cls = make_dataclass(tag.rsplit("/", 1)[1], [(n, t, field(default=d)) for n, t, d in fields])
    cls.__module__ = __name__
    return wire_type(tag)(cls)


def _method(service_name: str, name: str, request: type, response: type):
    async def handler(self, req):  # noqa: ANN001 - annotated below, as the runtime reads them
        return response(text=req.text * max(req.n, 0), n=req.n, service=service_name, method=name)

    handler.__name__ = handler.__qualname__ = name
    handler.__annotations__ = {"req": request, "return": response}
    return rpc(handler)


def make_service(name: str, methods: int = METHODS) -> type:
    """A shared service ``name`` with unary methods ``m0`` .. ``m<methods-1>``."""
    body: dict[str, Any] = {"__module__": __name__, "__qualname__": name}
    for k in range(methods):
        request = _message(f"{NS}/{name}/M{k}Request", [("text", str, ""), ("n", int, 1)])
        response = _message(f"{NS}/{name}/M{k}Response",
                            [("text", str, ""), ("n", int, 0), ("service", str, ""), ("method", str, "")])
        body[f"m{k}"] = _method(name, f"m{k}", request, response)
    return service(name=name, version=1)(type(name, (), body))


SizeRequest = _message(f"{NS}/SizeRequest", [("size", int, 0)])
SizeResponse = _message(f"{NS}/SizeResponse", [("text", str, "")])


@service(name="Payload", version=1)
class Payload:
    """``sized`` answers ``size`` characters of text."""

    @rpc
    async def sized(self, req: SizeRequest) -> SizeResponse:
        return SizeResponse(text="x" * max(req.size, 0))


def specs(count: int, methods: int = METHODS) -> list[str]:
    """``MODULE:CLASS`` specs of ``count`` generated services."""
    suffix = "" if methods == METHODS else f"x{methods}"
    return [f"{__name__}:Svc{i}{suffix}" for i in range(count)]


def __getattr__(name: str) -> type:
    match = _NAME.fullmatch(name)
    if match is None:
        raise AttributeError(name)
    if name not in _BUILT:
        _BUILT[name] = make_service(name, int(match.group(2) or METHODS))
    return _BUILT[name]

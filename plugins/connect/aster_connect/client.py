"""Connect to a live Aster peer, list what it offers and call it: no click, no printing.

API summary (everything is async; errors are :mod:`aster_connect.errors` classes,
which are also :mod:`aster_core.errors` classes with the right exit code)::

    from aster_connect.client import connect, resolve_address

    conn = await connect("aster1...", rcan="consumer.cred", timeout=10)
    #   address: aster1 ticket, base64 NodeAddr, 64-hex endpoint id, a peer
    #            name from ./.aster-identity, or a form a family resolves
    #            (@handle/Service: aster-registry); resolve_address() parses them.
    #   rcan:    credential JSON or .aster-identity file (its node key is used,
    #            so an endpoint-bound credential is admitted). None: the
    #            runtime's defaults (ASTER_ENROLLMENT_CREDENTIAL, ./.aster-identity).
    #   schemas: method schemas are read from the published manifests
    #            (schemas=False skips that; conn.load_schemas() later).
    async with conn:
        conn.services                 # [ServiceInfo(name, version, scoped, contract_id, methods)]
        svc = conn.service("Echo")    # CallNotFound lists the services that exist
        m = svc.method("say")         # MethodInfo(name, pattern, fields, response_fields) or None
                                      #   when the schema is unknown; CallNotFound lists methods.
                                      #   FieldInfo: kind, nullable, item_kind/item_ref/item_nullable,
                                      #   key_kind, value_kind/value_ref/value_nullable, type_label
        svc.manifest                  # the published manifest dict as read, or None when unknown:
                                      #   its methods[] keep the runtime's full descriptors
                                      #   (idempotent, default_kind, ...)
        await conn.call("Echo", "say", {"text": "hi"})          # one response
        await conn.call("Echo", "say", {}, metadata={"k": "v"}) # call metadata (any pattern;
                                                                 #   aster_connect.metadata checks it)
        async for r in conn.invoke("Echo", "count", {"n": 3}):   # server stream
            ...
        await conn.call("Echo", "join", items=[{...}, {...}])    # client stream (any iterable,
                                                                 #   sync or async)
        async for r in conn.invoke("Echo", "chat", items=gen()): # bidi
            ...
        sess = await conn.session("Counter")   # session-scoped: state lives until close()
        await sess.call("add", {"n": 1}); await sess.close()
        # conn.call/invoke on a session-scoped service use a one-call session.

Run the event loop with :func:`run` (``run(main())``), not ``asyncio.run``: the
runtime must be imported before the loop exists or it may crash at exit. A
command that ends right after its work may end with ``await
conn.close_before_exit()`` inside the loop and :func:`exit_now` after it
(no draining wait, no interpreter teardown; the peer still sees a normal close).

Every version of a service is reachable (calls carry the announced version;
see :mod:`aster_connect.wire`). Requests are checked against the schema first
(:func:`aster_connect.schema.check_request`) when one is known.

This module is the API's one import place; the code lives in modules named for
what they hold: :mod:`.dial` (``connect``: resolving, admission),
:mod:`.connection` (``Connection``, ``Session``: what the peer offers, calling it),
:mod:`.lifecycle` (``run``, ``quiet_close``, ``close_client_before_exit``,
``exit_now``: the event loop, closing runtime clients, ending the process).
"""

from __future__ import annotations

from .addresses import Address, resolve_address
from .connection import Connection, Session
from .dial import DEFAULT_TIMEOUT, connect
from .errors import CallError
from .lifecycle import CLOSE_TIMEOUT, close_client_before_exit, exit_now, quiet_close, run
from .schema import MethodInfo, ServiceInfo

__all__ = ["Connection", "Session", "connect", "run", "exit_now", "close_client_before_exit", "quiet_close",
           "resolve_address", "Address", "ServiceInfo", "MethodInfo", "CallError", "DEFAULT_TIMEOUT",
           "CLOSE_TIMEOUT"]

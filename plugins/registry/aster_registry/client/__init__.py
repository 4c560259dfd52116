"""The registry client: everything our ``join``/``verify``/``publish``/``discover``/``access``
commands do, as library functions that return data (the click modules only parse and render).

- :mod:`.address`: which registry to talk to (``--registry``, ``ASTER_SERVICE_ADDR``,
  ``[aster_service] node_id``);
- :mod:`.envelope`: the signed request envelope (``docs/registry.md``, "The signed envelope");
- :mod:`.session`: one connection to the registry and typed unary calls on it;
- :mod:`.state`: the profile's registry state in ``config.toml``;
- :mod:`.tokens`: producer tokens in ``.aster-identity`` (the layout the runtime reads);
- :mod:`.context`: what every action shares (the registry, the timeout, the signing key);
- :mod:`.handles`, :mod:`.publication`, :mod:`.access`: the actions, one function per command;
- :mod:`.options` and ``commands_handles``, ``commands_publication``, ``commands_access``:
  the click commands (parse, call the action, render);
- :mod:`.resolve`: ``@handle/Service`` to a live endpoint (the family's ``aster_address_resolvers``
  hook names its ``Resolver``; used by call, shell, mcp, contract).

Nothing here is imported by ``aster --help``; the runtime is imported only when a call is made.
"""

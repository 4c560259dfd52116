"""The authority server (``aster authority serve``), installed with ``aster-authority[server]``.

- :mod:`.app`: ``serve`` and the services it runs (:func:`.app.build_services`);
- :mod:`.handlers`, :mod:`.device_handlers`: the five services, thin (parse, call the store, map)
  on :mod:`aster_server.request`; :mod:`.rpc`: what they add to it (the caller as an Actor,
  JSON fields, the Reply);
- :mod:`.store` (:class:`~.store.Store`): every operation one transaction, split by what it
  holds: :mod:`.deployments` (deployments, plans), :mod:`.credentials` (instances,
  credentials), :mod:`.grants` (grants, revocation lists), :mod:`.devices` (devices,
  activations, reviews), on :mod:`.database` (transactions, the deployment's row lock, pages)
  and the tables of :mod:`.tables`;
- :mod:`.migrations`: Alembic migrations (version table ``alembic_version_authority``).

Nothing outside this package imports it, but ``aster authority serve`` when it runs.
"""

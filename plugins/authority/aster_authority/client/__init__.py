"""The authority's client: everything the ``svc``, ``dev``, ``grants`` and ``authority``
commands do, as library functions that return data (the click modules only parse and render).

- :mod:`.settings`: which authority, which admin credential (flags, environment, config.toml);
- :mod:`.connection`: :class:`~.connection.Authority`, one connection driven from synchronous
  code (calls with :mod:`aster_authority.wire` requests, paging, errors);
- :mod:`.deployments`: deployments and plans (``svc`` and ``dev`` alike), ``apply``'s proposal;
- :mod:`.images`: the contract manifest inside an OCI image (``apply --image``), over
  :mod:`.oci_layout` (layout sources, digests, caps) and :mod:`.tar_stream` (bounded tar reading);
- :mod:`.signing`: the root key that signs, ``provision`` of a service instance, ``reconcile``;
- :mod:`.grants`: consumer grants;
- :mod:`.devices`: devices, activations, reviews (operator and reviewer side);
- :mod:`.provisioning`: ``dev ID provision``: keys, bundles, registration (bundles kept when
  the outcome is unknown; ``--from-bundles`` registers them again, safely);
- :mod:`.activation`: what the device runs (``aster dev activate``);
- :mod:`.nodes`: a node fetching its credentials, ``authority status``;
- :mod:`.checks`: the ``aster doctor`` check.

Nothing here imports SQLAlchemy or ``aster_server``: a machine without the ``server``
extra runs every command but ``authority serve``.
"""

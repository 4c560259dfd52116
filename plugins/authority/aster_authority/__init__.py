"""`aster svc`, `aster dev`, `aster grants`, `aster authority`: the deployment authority (Trellis-style reviewed plans).

Library entry points (importable without click):

- :mod:`aster_authority.plans`: the plan/review state machine (pure: no storage, no network)
- :mod:`aster_authority.classify`: classification of a proposal with :func:`aster_contract.diff.diff_contracts`
- :mod:`aster_authority.store`: the authority's tables and transactions (SQLite / PostgreSQL via aster-server)
- :mod:`aster_authority.server`: the services ``aster authority serve`` runs
- :mod:`aster_authority.client`: calling the authority (admin and node-facing methods)
- :mod:`aster_authority.gate`: an interceptor producers add to refuse revoked or unknown callers
"""

__version__ = "0.1.0"

"""`aster svc`, `aster dev`, `aster grants`, `aster authority`: the deployment authority (Trellis-style reviewed plans).

Laid out as the registry family is:

- :mod:`aster_authority.wire`: every request type of the authority's services, declared once;
- :mod:`aster_authority.domain`: the rules, pure (plans, devices, grants, the credential policy);
- :mod:`aster_authority.client`: calling the authority (what the commands do, returning data);
- :mod:`aster_authority.cli`: the click commands, split by resource;
- :mod:`aster_authority.server`: ``aster authority serve`` (needs ``aster-authority[server]``);
- :mod:`aster_authority.gate`: an interceptor producers add to refuse revoked or unknown callers
  (needs only the runtime).
"""

__version__ = "0.1.0"

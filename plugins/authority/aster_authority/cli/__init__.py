"""The authority's commands, split by resource; each parses, calls :mod:`aster_authority.client`
and renders. Imported only when one of its commands runs (never by ``aster --help``).

- :mod:`.svc` (``aster svc``) and :mod:`.dev` (``aster dev``): the resource-first groups;
- :mod:`.deployment`: the commands every deployment has (``list``, ``show``, ``apply``,
  ``disable``, ``enable``, ``remove``); :mod:`.plans`: its ``authority`` group (plans,
  decisions, reconcile);
- :mod:`.activations`, :mod:`.reviews`: the device-only groups of ``aster dev ID``;
- :mod:`.grants` (``aster grants``), :mod:`.authority` (``aster authority serve|fetch|status``);
- :mod:`.common`: what they share (options, the kind and deployment a command runs on,
  renderers).
"""

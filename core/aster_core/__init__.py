"""aster-core: the `aster` host command and the helpers every family shares.

This module stays import-free on purpose: it is on the start-up path of every
`aster` invocation. The host's contract with families lives in
:mod:`aster_core.hookspecs`.
"""

__version__ = "0.1.0"

#: Entry-point group families register in. The suffix is the plugin API
#: generation: a future host with an incompatible contract uses ``v2`` and
#: never imports plugins written for this one.
ENTRY_POINT_GROUP = "aster.plugins.v1"
PLUGIN_API_VERSION = 1

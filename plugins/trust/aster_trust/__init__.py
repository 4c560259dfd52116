"""aster-trust: offline ed25519 root keys and the enrollment credentials the Aster runtime admits.

Library: :mod:`aster_trust.keys` (root keys), :mod:`aster_trust.credentials` (signing bytes,
signing, loading, checking), :mod:`aster_trust.attributes` (``--attr`` and ``aster.role``).
Commands: :mod:`aster_trust.cli` (``aster trust``).
"""

__version__ = "0.1.0"

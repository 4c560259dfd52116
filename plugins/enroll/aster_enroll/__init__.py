"""aster-enroll: ``aster enroll node`` writes `.aster-identity` files the Aster runtime admits.

Library: :mod:`aster_enroll.enrollment` (``enroll_node``) and :mod:`aster_enroll.identity`
(the file). Signing comes from aster-trust.
"""

__version__ = "0.1.0"

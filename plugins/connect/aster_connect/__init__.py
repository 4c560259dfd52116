"""aster-connect: call and explore live Aster services (`aster call`, `aster shell`).

The reusable, click-free API lives in :mod:`aster_connect.client`.
"""

__version__ = "0.1.0"

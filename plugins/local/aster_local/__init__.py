"""``aster local``: a whole mesh on this machine (see the family's README)."""

__version__ = "0.1.0"

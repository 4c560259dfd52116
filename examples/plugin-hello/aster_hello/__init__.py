"""aster-hello: an example third-party family for `aster`."""

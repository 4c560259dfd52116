"""aster-registry: the registry client commands and ``aster registry serve``.

Layout: ``aster_registry.client`` and the top-level command modules are the client side;
``aster_registry.server`` (service, storage, mail, migrations) is the server side.
Importing this package imports nothing heavy.
"""

__version__ = "0.1.0"

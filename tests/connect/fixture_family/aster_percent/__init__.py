"""A third-party family that adds an address form (``%name``) through ``aster_address_resolvers``."""

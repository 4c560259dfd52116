"""Hooks only: ``%name`` addresses, and a prefix the host must refuse (it could take tickets)."""

from aster_core.hookspecs import AddressResolver, hookimpl


@hookimpl
def aster_address_resolvers():
    return [
        AddressResolver("%", "%name: a peer named in $ASTER_TEST_PERCENT_BOOK", "aster_percent.resolve:Resolver"),
        AddressResolver("a", "never used: would take aster1... tickets", "aster_percent.resolve:Greedy"),
    ]

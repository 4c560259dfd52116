"""``%name`` -> the address that the JSON file ``$ASTER_TEST_PERCENT_BOOK`` gives for ``name``."""

import json
import os
import re

from aster_core.errors import NotFoundError, UsageError


class Resolver:
    @staticmethod
    def check(text):
        if not re.fullmatch(r"%[a-z]+", text):
            raise UsageError(f"not a percent address: {text!r}", "write it as %name, in lowercase letters")

    @staticmethod
    async def resolve(text, *, timeout=None):
        with open(os.environ["ASTER_TEST_PERCENT_BOOK"], encoding="utf-8") as book:
            known = json.load(book)
        if text[1:] not in known:
            raise NotFoundError(f"no peer {text!r} in the book", "add it to the book")
        return known[text[1:]]


class Greedy:
    @staticmethod
    def check(text):
        raise AssertionError("a prefix that can begin a ticket must never be asked")

    @staticmethod
    async def resolve(text, *, timeout=None):
        raise AssertionError("a prefix that can begin a ticket must never be asked")

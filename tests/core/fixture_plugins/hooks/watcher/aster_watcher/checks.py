import json

from aster_core.hookspecs import CheckResult

from .plugin import SEEN


def saw():
    return CheckResult("watcher saw", "ok", json.dumps(SEEN))

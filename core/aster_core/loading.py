"""Import a ``"module:attribute"`` target named by a hook, only when it is needed."""

from __future__ import annotations

import importlib
from typing import Any


def load_target(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj

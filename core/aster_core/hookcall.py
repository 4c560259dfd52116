"""Calling hooks through pluggy with every family's failures contained.

pluggy stops a hook call at the first implementation that raises, so a family
is never registered as it is: :func:`family_proxy` registers, in its place, a
stand-in whose implementations call the family's and

- label what it returned with the family (a :class:`Contribution`, a list), so
  the host can say which family gave each item;
- catch what it raised, report it through ``report(owner, message)`` and
  contribute an empty list instead, so every other family still runs;
- for a wrapper (``wrapper=True``, or the older ``hookwrapper=True``), drive
  the family's generator around the inner call and keep the result unchanged
  when the family's code raises, does not yield, or returns something that is
  not a list of lists.

The stand-in keeps the family's options (``tryfirst``, ``trylast``, the
wrapper kinds), and pluggy reads the family's own signature through
``__wrapped__``, so ordering, wrappers and argument checks are pluggy's own.
Only the host and ``aster plugins`` pay for importing pluggy: ``aster --help``
reads what families declared from the plugin cache (:mod:`.plugincache`).
"""

from __future__ import annotations

import inspect
import types
from typing import Any, Callable, Iterable

from . import hookspecs
from .hookspecs import HOOK_NAMES

Report = Callable[[Any, str], None]


class Contribution(list):
    """What one family's implementation returned, labelled with the family (``owner``)."""

    __slots__ = ("owner",)

    def __init__(self, items: Iterable[Any] = (), owner: Any = None):
        super().__init__(items)
        self.owner = owner


def _raised(hook: str, exc: BaseException) -> str:
    return f"{hook}() raised {type(exc).__name__}: {exc}"


def _plain(impl: Callable[..., Any], owner: Any, hook: str, report: Report) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Contribution:
        try:
            return Contribution(impl(*args, **kwargs) or (), owner)
        except Exception as exc:
            report(owner, _raised(hook, exc))
            return Contribution((), owner)

    return call


def _as_results(value: Any, owner: Any) -> list[Contribution]:
    """A wrapper's return value as the list of contributions the host expects; items
    that are not yet labelled (added or rebuilt by the wrapper) are the wrapper's."""
    if not isinstance(value, list):
        raise TypeError(f"a wrapper must return the list of results, not {type(value).__name__}")
    return [item if isinstance(item, Contribution) else Contribution(item, owner) for item in value]


def _wrapper(impl: Callable[..., Any], owner: Any, hook: str, report: Report) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            family = impl(*args, **kwargs)
            next(family)
        except StopIteration:
            report(owner, f"{hook}() wrapper did not yield")
            return (yield)
        except Exception as exc:
            report(owner, _raised(hook, exc))
            return (yield)
        try:
            result = yield
        except BaseException:  # families' failures are contained, so this is an interrupt: pass it on
            family.close()
            raise
        try:
            family.send(result)
        except StopIteration as done:
            try:
                return _as_results(done.value, owner)
            except Exception as exc:
                report(owner, _raised(hook, exc))
                return result
        except Exception as exc:
            report(owner, _raised(hook, exc))
            return result
        family.close()
        report(owner, f"{hook}() wrapper yielded more than once")
        return result

    return call


def _hookwrapper(impl: Callable[..., Any], owner: Any, hook: str, report: Report) -> Callable[..., Any]:
    """The older style: the family receives pluggy's Result and may replace it with force_result."""
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            family = impl(*args, **kwargs)
            next(family)
        except StopIteration:
            report(owner, f"{hook}() hookwrapper did not yield")
            yield
            return
        except Exception as exc:
            report(owner, _raised(hook, exc))
            yield
            return
        outcome = yield
        if outcome.exception is not None:  # an interrupt, not a family's failure: let it through untouched
            family.close()
            return
        before = outcome.get_result()
        try:
            family.send(outcome)
        except StopIteration:
            pass
        except Exception as exc:
            report(owner, _raised(hook, exc))
            outcome.force_result(before)
            return
        else:
            family.close()
            report(owner, f"{hook}() hookwrapper yielded more than once")
            outcome.force_result(before)
            return
        try:
            outcome.force_result(_as_results(outcome.get_result(), owner))
        except Exception as exc:
            report(owner, _raised(hook, exc))
            outcome.force_result(before)

    return call


def implemented_hooks(module: Any) -> list[str]:
    """The hooks ``module`` implements: functions named after a hook and marked ``@hookimpl``."""
    return [name for name in HOOK_NAMES if isinstance(getattr(getattr(module, name, None), "aster_impl", None), dict)]


def unknown_hooks(module: Any) -> list[str]:
    """``aster_*`` functions of ``module`` that match no hookspec (misspelled or unmarked)."""
    unknown = []
    for name in dir(module):
        if name.startswith("aster_") and callable(getattr(module, name)):
            if name not in HOOK_NAMES:
                unknown.append(name)
            elif not isinstance(getattr(getattr(module, name), "aster_impl", None), dict):
                unknown.append(f"{name} (missing @hookimpl)")
    return unknown


def family_proxy(module: Any, owner: Any, label: str, report: Report) -> types.ModuleType:
    """The stand-in registered with pluggy for ``module`` (see the module docstring).

    Raises ValueError when a hook is marked as a wrapper but is not a generator
    function (pluggy would check the stand-in, which always is one).
    """
    proxy = types.ModuleType(f"aster-family:{label}")
    for hook in implemented_hooks(module):
        impl = getattr(module, hook)
        opts = dict(impl.aster_impl)
        if opts.get("wrapper") or opts.get("hookwrapper"):
            if not inspect.isgeneratorfunction(impl):
                raise ValueError(f"{hook} is marked as a wrapper but is not a generator function (it must yield once)")
            make = _hookwrapper if opts.get("hookwrapper") and not opts.get("wrapper") else _wrapper
        else:
            make = _plain
        call = make(impl, owner, hook, report)
        call.__wrapped__ = impl  # type: ignore[attr-defined]  # pluggy checks the family's own arguments
        call.__name__ = call.__qualname__ = hook
        call.aster_impl = opts  # type: ignore[attr-defined]
        setattr(proxy, hook, call)
    return proxy


def make_manager() -> Any:
    """A pluggy manager for :mod:`.hookspecs` that reads our light-weight marks (see hookspecs.hookimpl)."""
    import pluggy

    class AsterPluginManager(pluggy.PluginManager):
        def parse_hookspec_opts(self, module_or_class, name):
            if module_or_class is hookspecs and name in HOOK_NAMES:
                return {"firstresult": False, "historic": False, "warn_on_impl": None, "warn_on_impl_args": None}
            return None

        def parse_hookimpl_opts(self, plugin, name):
            opts = getattr(getattr(plugin, name, None), "aster_impl", None)
            return dict(opts) if isinstance(opts, dict) else None

    manager = AsterPluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    return manager

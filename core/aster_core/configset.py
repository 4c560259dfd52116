"""``aster config set`` and ``unset``: change one setting of ``config.toml`` without hand-editing.

Only settings a family declares (``aster_config_fields``, the same list ``config show``
explains) may be set, by their name (``authority.address``) or their place in the file
(``hello.greeting``). The value is checked first, by the family's ``check`` when it names
one, else by the type of its default; then the file is changed through
:func:`aster_core.files.update_toml` (locked, atomic, comments and unknown tables kept),
so a refused value or a failed write leaves the file exactly as it was.

Settings whose section holds ``{profile}`` live in ``[profiles.<name>]``: ``--profile``
picks which, else the selected profile. Other settings are global; ``--profile`` on
them is refused rather than ignored.
"""

from __future__ import annotations

import difflib
import math
import os
from dataclasses import dataclass
from typing import Any

from .errors import NotFoundError, UsageError
from .hookspecs import ConfigField
from .text import check_text, shown

ONE_LINE = "give the value on one line, with no control characters"

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
#: the longest text value a setting may hold (paths and tickets are far shorter)
MAX_VALUE = 4096
PROFILE_SECTION = "{profile}"


@dataclass(frozen=True)
class Setting:
    """A declared setting the file can hold: its owner, its field, its TOML place."""

    owner: str
    field: ConfigField

    @property
    def per_profile(self) -> bool:
        return PROFILE_SECTION in (self.field.section or "")

    def path(self, profile: str | None) -> list[str]:
        """Tables from the document's root to the setting's table."""
        section = (self.field.section or "").replace(PROFILE_SECTION, profile or "")
        return [part for part in section.split(".") if part]

    def place(self, profile: str | None = None) -> str:
        parts = self.path(profile)
        return f"[{'.'.join(parts)}] {self.field.key}" if parts else str(self.field.key)


def declared() -> list[Setting]:
    """Every setting of every installed family (the built-in one first)."""
    from .host import get_host

    return [Setting(owner, field) for owner, field in get_host().collect("aster_config_fields")]


def find(key: str) -> Setting:
    """The declared setting ``key`` names (its name, or ``section.key`` of a global one);
    UsageError (exit 2) for anything else, saying why."""
    from .settings import RUNTIME_SETTINGS

    check_text(key, field="KEY", max_length=200, hint=ONE_LINE)
    settings = declared()
    for s in settings:
        if s.field.name == key or (not s.per_profile and ".".join([*s.path(None), s.field.key or ""]) == key):
            if s.field.key is None:
                where = f"the environment variable {s.field.env}" if s.field.env else "nowhere a file holds"
                raise UsageError(f"{key} is not kept in config.toml: it is read from {where}",
                                 f"export {s.field.env}=VALUE instead" if s.field.env else "see `aster config show`")
            return s
    runtime = {r.name: r for r in RUNTIME_SETTINGS}
    runtime.update({f"{r.section}.{r.toml_key}": r for r in RUNTIME_SETTINGS if r.section})
    if key in runtime:
        raise UsageError(f"{key} is a setting of the Aster runtime, which reads aster.toml and {runtime[key].env}, "
                         "not config.toml", f"export {runtime[key].env}=VALUE, or put it in the service's aster.toml")
    names = [s.field.name for s in settings if s.field.key is not None]
    close = difflib.get_close_matches(key, names, n=3)
    hint = (f"did you mean {', '.join(close)}? " if close else "") + "`aster config show` lists every setting"
    raise UsageError(f"no setting named {shown(key)}", hint)


def convert(setting: Setting, text: str) -> Any:
    """The value to store for ``text``: the family's check decides, else the default's type."""
    field = setting.field
    check_text(text, field=field.name, max_length=MAX_VALUE, hint=ONE_LINE)  # whatever the family checks
    if field.check:
        from .loading import load_target

        return load_target(field.check)(text)
    default = field.default
    value = text.strip()
    if isinstance(default, bool):
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise UsageError(f"{field.name} takes true or false, not {shown(text)}", "use true/false (or yes/no, on/off, 1/0)")
    if isinstance(default, (int, float)):
        try:
            number = int(value) if isinstance(default, int) else float(value)
        except ValueError:
            kind = "a whole number" if isinstance(default, int) else "a number"
            raise UsageError(f"{field.name} takes {kind}, not {shown(text)}", f"give {kind}") from None
        if number < 0 or not math.isfinite(number):
            raise UsageError(f"{field.name} must be a finite number of 0 or more, not {shown(text)}", "give such a number")
        return number
    if not value:
        raise UsageError(f"{field.name} cannot be empty", f"to remove it, run `aster config unset {field.name}`")
    return value


def _profile(setting: Setting, profile: str | None, doc: dict[str, Any]) -> str | None:
    """The profile a per-profile setting goes to (checked to exist); None for a global one."""
    from .home import config_path
    from .profiles import selected_profile_name

    if not setting.per_profile:
        if profile:
            raise UsageError(f"{setting.field.name} is not a per-profile setting (it lives in {setting.place()})",
                             f"leave out --profile: `aster config set {setting.field.name} VALUE`")
        return None
    name = selected_profile_name(profile)
    table = doc.get("profiles", {})
    if not isinstance(table, dict) or not isinstance(table.get(name), dict):
        raise NotFoundError(f"no profile named {name!r} in {config_path()}", "see `aster profile list`")
    return name


def _table(doc: dict[str, Any], parts: list[str], *, create: bool) -> dict[str, Any] | None:
    """The table at ``parts`` (made when ``create``); a non-table on the way is bad input."""
    import tomlkit

    from .home import config_path

    table: Any = doc
    for depth, part in enumerate(parts):
        nxt = table.get(part)
        if nxt is None:
            if not create:
                return None
            nxt = tomlkit.table()
            table[part] = nxt
        if not isinstance(nxt, dict):
            raise UsageError(f"{config_path()}: {'.'.join(parts[:depth + 1])} is not a table",
                             "fix the file by hand (nothing was changed)")
        table = nxt
    return table


def _drop_if_empty(doc: dict[str, Any], parts: list[str]) -> None:
    """Remove the setting's table when removing it left the table empty (and holding no
    comment), so set then unset leaves the file as it was."""
    from tomlkit.items import Comment

    if not parts:
        return
    parent = _table(doc, parts[:-1], create=False)
    table = parent.get(parts[-1]) if parent is not None else None
    body = getattr(getattr(table, "value", None), "body", [])
    header_comment = getattr(getattr(table, "trivia", None), "comment", "")
    if isinstance(table, dict) and not table and not header_comment \
            and not any(isinstance(item, Comment) for _, item in body):
        del parent[parts[-1]]


def text_of(value: Any) -> str:
    """A value as the file spells it (true, not True)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def shown_value(setting: Setting, value: Any) -> Any:
    from .settings import SECRET_MASK

    return SECRET_MASK if setting.field.secret and value is not None else value


def change(values: dict[str, str | None], *, profile: str | None = None) -> list[dict[str, Any]]:
    """Set (a text) or remove (``None``) each named setting in ONE write of the file: every
    key and value is checked first, so a refusal leaves the file as it was. Returns one
    report per setting."""
    from .files import update_toml
    from .home import config_path, ensure_home

    plan = [(find(key), None if text is None else convert(find(key), text)) for key, text in values.items()]
    results: list[dict[str, Any]] = [{} for _ in plan]

    def mutate(doc: dict[str, Any]) -> None:
        for (setting, value), result in zip(plan, results):
            name = _profile(setting, profile, doc)
            table = _table(doc, setting.path(name), create=value is not None)
            before = table.get(setting.field.key) if table is not None else None
            if value is not None:
                assert table is not None
                table[setting.field.key] = value
                changed = before != value
            else:
                changed = table is not None and setting.field.key in table
                if changed:
                    del table[setting.field.key]
                    _drop_if_empty(doc, setting.path(name))
            result.update(profile=name, place=setting.place(name), changed=changed)

    if any(value is not None for _, value in plan):
        ensure_home()
        update_toml(config_path(), mutate)
    elif config_path().exists():
        update_toml(config_path(), mutate)
    else:
        for (setting, _), result in zip(plan, results):
            result.update(profile=profile, place=setting.place(profile), changed=False)
    return [_report(setting, result, value, "unset" if value is None else "set")
            for (setting, value), result in zip(plan, results)]


def set_value(key: str, text: str, *, profile: str | None = None) -> dict[str, Any]:
    """Check ``text`` and store it as setting ``key``; returns what changed."""
    return change({key: text}, profile=profile)[0]


def unset_value(key: str, *, profile: str | None = None) -> dict[str, Any]:
    """Remove setting ``key`` from the file (its default or environment applies again)."""
    return change({key: None}, profile=profile)[0]


def _report(setting: Setting, result: dict[str, Any], value: Any, action: str) -> dict[str, Any]:
    from .home import config_path

    env = setting.field.env
    overridden = env if env and os.environ.get(env, "").strip() else None
    return {"action": action, "key": setting.field.name, "owner": setting.owner, "file": str(config_path()),
            "place": result["place"], "profile": result["profile"], "value": shown_value(setting, value),
            "changed": result["changed"], "default": setting.field.default, "overridden_by": overridden}


def existing_profile(text: str) -> str:
    """The ``check`` of ``active_profile``: the name of a profile that exists."""
    from .profiles import get_profile, validate_name

    validate_name(text.strip())
    return get_profile(text.strip()).name

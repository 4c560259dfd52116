"""Call metadata (``aster call -H key=value``, a batch line's ``"metadata"``), checked before a call.

The runtime carries metadata as text keys and values in each call's header; a service reads
them from the call context its interceptors receive (``ctx.metadata``). Its servers do not
refuse metadata beyond their limits the same way: a shared service drops the pairs past the
64th without a word, a session-scoped one answers RESOURCE_EXHAUSTED. So the same limits are
checked here, before anything is sent, and every excess is bad input naming the pair.

Standard library only: this runs while the arguments are parsed.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from aster_core.errors import UsageError

__all__ = ["MAX_ENTRIES", "MAX_KEY", "MAX_VALUE", "MAX_TOTAL", "parse_headers", "check_metadata"]

#: the runtime's limits for one call's metadata (pairs; characters of a key and of a value;
#: UTF-8 bytes of every key and value together)
MAX_ENTRIES = 64
MAX_KEY = 256
MAX_VALUE = 4096
MAX_TOTAL = 8192
#: a key is a header-style token; a leading ``_aster`` is the runtime's own (its compression
#: settings travel as ``_aster_compress_*``), so a user's key could silently change them
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_RESERVED = "_aster"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
HINT = "Write each as -H key=value (letters, digits, '.', '_', '-' in the key), e.g. -H authorization=token."


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else f"{text[:40]!r}... ({len(text)} characters)"


def _check_pair(key: Any, value: Any, where: str) -> None:
    if not isinstance(key, str) or not isinstance(value, str):
        raise UsageError(f"{where}: metadata keys and values must be text, got {type(value).__name__} "
                         f"for {_shown(str(key))}", HINT)
    if not key:
        raise UsageError(f"{where}: a metadata key is empty", HINT)
    if len(key) > MAX_KEY:
        raise UsageError(f"{where}: the metadata key {_shown(key)} is longer than {MAX_KEY} characters", HINT)
    if key.lower().startswith(_RESERVED):
        raise UsageError(f"{where}: the metadata key {_shown(key)} is reserved for the runtime ({_RESERVED}...)",
                         "Choose a key that does not begin with _aster.")
    if not _KEY.fullmatch(key):
        raise UsageError(f"{where}: the metadata key {_shown(key)} has a character other than letters, digits, "
                         "'.', '_' and '-' (or does not begin with a letter or digit)", HINT)
    if len(value) > MAX_VALUE:
        raise UsageError(f"{where}: the value of {key!r} is {len(value)} characters, more than {MAX_VALUE}",
                         "Send large data in the request, not in metadata.")
    if _CONTROL.search(value):
        raise UsageError(f"{where}: the value of {key!r} holds a control character (such as a newline)",
                         "Metadata values are one line of text.")


def check_metadata(metadata: Any, where: str = "metadata") -> dict[str, str]:
    """``metadata`` (a JSON object of text values) checked against the runtime's limits; returns it."""
    if not isinstance(metadata, dict):
        raise UsageError(f"{where} must be a JSON object of text values, not {type(metadata).__name__}",
                         'For example: "metadata": {"authorization": "token"}.')
    if len(metadata) > MAX_ENTRIES:
        raise UsageError(f"{where}: {len(metadata)} metadata pairs, more than {MAX_ENTRIES}",
                         "Send fewer pairs; put data in the request instead.")
    total = 0
    for key, value in metadata.items():
        _check_pair(key, value, where)
        total += len(key.encode("utf-8", "surrogatepass")) + len(value.encode("utf-8", "surrogatepass"))
    if total > MAX_TOTAL:
        raise UsageError(f"{where}: the metadata is {total} bytes in all, more than {MAX_TOTAL}",
                         "Send shorter values; put data in the request instead.")
    return dict(metadata)


def parse_headers(words: Iterable[str]) -> dict[str, str]:
    """``-H key=value`` words into call metadata (UsageError naming the first bad one)."""
    metadata: dict[str, str] = {}
    for word in words:
        key, eq, value = word.partition("=")
        if not eq:
            hint = HINT
            if ":" in word:  # grpcurl's spelling, 'key: value'
                hint = f"Write -H {word.partition(':')[0].strip()}={word.partition(':')[2].strip()} here " \
                       "(grpcurl's 'key: value' is key=value in aster call)."
            raise UsageError(f"-H {_shown(word)} has no '=' between key and value", hint)
        _check_pair(key, value, f"-H {_shown(key)}")
        if key in metadata:
            raise UsageError(f"-H {key} is given twice", "Give each key once: a call carries one value per key.")
        metadata[key] = value
        if len(metadata) > MAX_ENTRIES:
            raise UsageError(f"more than {MAX_ENTRIES} -H pairs", "Send fewer pairs; put data in the request instead.")
    return check_metadata(metadata, "-H")

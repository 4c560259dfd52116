"""``aster init --ai``: a guide for AI coding assistants working in a project that uses Aster.

Writes ``AGENTS_aster.md`` (how to define, check, call and publish services with this
``aster`` command line) and links it from ``AGENTS.md``, the file assistants read first. The
guide is regenerated on every run; a file of that name that this command did not write is
replaced only with ``force``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aster_core.errors import UsageError

GUIDE = "AGENTS_aster.md"
INDEX = "AGENTS.md"
LANGUAGES = ("python", "typescript")
#: the first line of every guide this command writes (how a rerun knows the file is its own)
MARKER = "<!-- written by `aster init --ai`; rerun it to refresh -->"
LINK = f"See [the Aster guide]({GUIDE}) for defining, checking, calling and publishing Aster services."

_COMMON = """# Working with Aster services in this project

Aster services are Python classes decorated with the runtime's `@service` and `@rpc`
(`aster-rpc`); they run peer to peer over QUIC. The `aster` command line does everything
around them. Every command takes `--help`; commands that print data take `--json`
(clean JSON on stdout, messages on stderr). Errors are one line, `Error: ... Hint: ...`,
with a documented exit code: 0 ok, 1 failed, 2 bad input, 3 denied, 4 not found,
7 peer unreachable.

## Contracts: check every interface change

- `aster contract gen --service MODULE:CLASS --out .aster/manifest.json` writes the manifest
  the server checks at start-up. Regenerate it whenever a method or message changes.
- `aster contract diff OLD NEW` exits 1 when a change breaks existing callers: run it before
  committing an interface change.
- `aster contract export -o contracts/` writes one portable `<Service>.aster.json` per service;
  `aster contract verify FILE` exits 1 when the local manifest no longer matches it.
- Give every message type an explicit `@wire_type("namespace/Name")`: without one the
  contract id depends on the module name, and a server run as a script gets another id.

## Calling and exploring a running service

- `aster call ADDRESS Service.method '{"field": 1}'` prints the result as JSON;
  ADDRESS is an `aster1...` ticket, a peer name from `./.aster-identity`, or
  `@handle/Service` from a registry. `Service@2.method` calls version 2.
- `aster shell ADDRESS` explores services (`ls`, `cd`, `describe`, `./method args`);
  it reads commands from stdin when that is not a terminal.
- `aster mcp ADDRESS --allow 'Service.*'` offers the methods as MCP tools.

## Credentials

- `aster profile create NAME` makes a root key (private half in the OS keyring);
  `aster trust keygen root --out root.key` makes a key file for machines without a keyring.
- `aster enroll node --role consumer --name NAME --capabilities a,b` writes
  `.aster-identity` (node key and signed credential, mode 0600). Never commit it.
- Pass a credential to any command that dials with `--rcan FILE`.

## Publishing

- `aster join`, `aster verify CODE`, then `aster publish Service --description "..."`;
  `aster discover WORDS` finds published services.
"""

_LANGUAGE = {
    "python": """
## Typed clients (Python)

- `aster contract gen-client .aster/manifest.json --out clients --lang python` generates a
  typed client package; from a live producer, pass its address instead of the file.
- Regenerate clients after `aster contract diff` reports a change.
""",
    "typescript": """
## Typed clients (TypeScript)

- `aster contract gen-client .aster/manifest.json --out clients --lang typescript` generates
  TypeScript types and a client; from a live producer, pass its address instead of the file.
- Regenerate clients after `aster contract diff` reports a change.
""",
}


def guide_text(language: str) -> str:
    return f"{MARKER}\n{_COMMON}{_LANGUAGE[language]}"


def write_guide(directory: str | os.PathLike = ".", *, language: str = "python", force: bool = False) -> dict[str, Any]:
    """Write ``AGENTS_aster.md`` into ``directory`` and make sure ``AGENTS.md`` links to it."""
    from aster_core.files import atomic_write, read_text

    if language not in LANGUAGES:
        raise UsageError(f"no agent guide for language {language!r}", "use --language python or --language typescript")
    folder = Path(directory)
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a directory", "give the project directory with --dir")
    guide, index = folder / GUIDE, folder / INDEX
    if guide.exists() and not force:
        first = read_text(guide, "agent guide", "move it aside or pass --force").partition("\n")[0]
        if first != MARKER:
            raise UsageError(f"{guide} exists and was not written by `aster init --ai`",
                             "move it aside, or pass --force to replace it")
    existing = read_text(index, "agents file", "fix or move it aside") if index.exists() else None
    atomic_write(guide, guide_text(language), mode=0o644)
    linked = existing is not None and GUIDE in existing
    if not linked:
        text = LINK + "\n" if existing is None else existing + ("" if existing.endswith("\n") else "\n") + "\n" + LINK + "\n"
        atomic_write(index, text, mode=0o644)
    return {"guide": str(guide), "language": language, "index": str(index),
            "index_action": "kept" if linked else ("created" if existing is None else "appended")}

"""``aster init``: the released aster-cli 0.1.2's project scaffolding command, contributed by this
family (hidden from ``aster --help``; see docs/migrating-from-0.1.2.md). ``--ai`` writes the
agent guide of :mod:`aster_contract.agents_guide`.
"""

from __future__ import annotations

from typing import Any

import click

from aster_core.errors import UsageError
from aster_core.output import emit, json_option


@click.command("init")
@click.option("--ai", is_flag=True, help="Write AGENTS_aster.md (a guide for AI coding assistants) and link it from AGENTS.md.")
@click.option("-l", "--language", default="python", show_default=True, type=click.Choice(["python", "typescript"]),
              help="Language of the guide's client examples.")
@click.option("-d", "--dir", "directory", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Project directory.")
@click.option("--force", is_flag=True, help="Replace an AGENTS_aster.md this command did not write.")
@json_option
def init(ai: bool, language: str, directory: str, force: bool, as_json: bool) -> None:
    """Project scaffolding (the aster-cli 0.1.2 spelling): `aster init --ai` writes an agent guide."""
    if not ai:
        raise UsageError("nothing to initialise", "run `aster init --ai` to write the agent guide AGENTS_aster.md")
    from .agents_guide import write_guide

    def render(d: dict[str, Any]) -> None:
        click.echo(f"Wrote {d['guide']} ({d['language']})")
        if d["index_action"] != "kept":
            click.echo(f"{d['index_action'].capitalize()} {d['index']} with a link to it")

    emit(write_guide(directory, language=language, force=force), as_json, render)

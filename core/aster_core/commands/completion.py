"""`aster completion bash|zsh|fish`."""

from __future__ import annotations

import click


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the completion script for SHELL.

    \b
    bash:  eval "$(aster completion bash)"   (add to ~/.bashrc)
    zsh:   eval "$(aster completion zsh)"    (add to ~/.zshrc)
    fish:  aster completion fish > ~/.config/fish/completions/aster.fish
    """
    from click.shell_completion import get_completion_class

    from ..main import cli

    comp_cls = get_completion_class(shell)
    click.echo(comp_cls(cli, {}, "aster", "_ASTER_COMPLETE").source())

"""`aster completion bash|zsh|fish`."""

from __future__ import annotations

import click

#: Our fish script. Each completion arrives as ``type,value<TAB>description``; it is
#: split at the first comma only, so descriptions (and values) keep their commas.
_FISH = """\
function %(complete_func)s;
    set -l response (env %(complete_var)s=fish_complete COMP_WORDS=(commandline -cp) \
COMP_CWORD=(commandline -t) %(prog_name)s);

    for completion in $response;
        set -l kind_value (string split --max 1 -- "," $completion);

        switch $kind_value[1];
            case dir;
                __fish_complete_directories $kind_value[2];
            case file;
                __fish_complete_path $kind_value[2];
            case plain;
                echo $kind_value[2];
        end;
    end;
end;

complete --no-files --command %(prog_name)s --arguments "(%(complete_func)s)";
"""


def completion_script(shell: str, prog_name: str = "aster") -> str:
    """The completion script for ``shell`` (bash, zsh or fish)."""
    from click.shell_completion import FishComplete, get_completion_class

    from ..main import cli

    comp_cls = get_completion_class(shell)
    if comp_cls is None:
        raise click.BadParameter(f"unknown shell {shell!r}")
    if issubclass(comp_cls, FishComplete):
        comp_cls = type("AsterFishComplete", (comp_cls,), {"source_template": _FISH})
    complete_var = "_" + prog_name.replace("-", "_").upper() + "_COMPLETE"
    return comp_cls(cli, {}, prog_name, complete_var).source()


@click.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the completion script for SHELL.

    Tab completes commands, options, profile names (`aster profile use <Tab>`, `--profile
    <Tab>`) and the deployment, plan, review and instance ids the list commands last showed
    (kept under the aster home's cache/completion; a Tab never dials anything).

    \b
    bash:  eval "$(aster completion bash)"   (add to ~/.bashrc)
    zsh:   eval "$(aster completion zsh)"    (add to ~/.zshrc)
    fish:  aster completion fish > ~/.config/fish/completions/aster.fish
    """
    click.echo(completion_script(shell))

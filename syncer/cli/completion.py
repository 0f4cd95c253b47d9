"""`fnsync completion SHELL`: the shell completion script, from click's own completion machinery."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

from syncer.cli.terminal import Terminal, pass_terminal

COMPLETE_VAR = "_FNSYNC_COMPLETE"
SHELLS = ("bash", "zsh", "fish")
INSTALL = {
    "bash": 'eval "$(fnsync completion bash)"   # in ~/.bashrc',
    "zsh": 'eval "$(fnsync completion zsh)"    # in ~/.zshrc',
    "fish": "fnsync completion fish > ~/.config/fish/completions/fnsync.fish",
}


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@pass_terminal
def completion(terminal: Terminal, shell: str) -> None:
    """Print the completion script for SHELL (bash, zsh or fish).

    \b
    bash:  eval "$(fnsync completion bash)"   (in ~/.bashrc)
    zsh:   eval "$(fnsync completion zsh)"    (in ~/.zshrc)
    fish:  fnsync completion fish > ~/.config/fish/completions/fnsync.fish
    """
    from syncer.cli import cli

    completion_class = get_completion_class(shell)
    assert completion_class is not None  # every name in SHELLS is one of click's
    script = completion_class(cli, {}, "fnsync", COMPLETE_VAR).source()
    terminal.write(script if script.endswith("\n") else script + "\n")

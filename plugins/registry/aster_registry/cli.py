"""``aster registry``: the group of server-side commands (``serve``, ``status``).

The client commands (``join``, ``verify``, ``publish``, ...) are top-level commands of
their own modules; this module only holds the ``registry`` group.
"""

from __future__ import annotations

import click

from .client.commands_login import login_cmd, logout_cmd, whoami_cmd
from .server.commands import serve, status


@click.group()
def registry() -> None:
    """Run a registry server and inspect its database."""


registry.add_command(serve)
registry.add_command(status)
registry.add_command(login_cmd)
registry.add_command(logout_cmd)
registry.add_command(whoami_cmd)

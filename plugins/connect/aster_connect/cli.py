"""`aster call` and `aster shell`: argument parsing and printing only.

The runtime (and prompt_toolkit, for the shell) are imported inside the
commands, after the arguments are parsed, so a bad invocation fails fast and
``aster --help`` never pays for them.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import click

from aster_core.errors import UsageError
from aster_core.output import json_option

from .targets import split_target

DEFAULT_TIMEOUT = 30.0
#: ``aster call --batch --parallel``: calls in flight by default, and at most
BATCH_PARALLEL = 8
MAX_PARALLEL = 256

rcan_option = click.option(
    "--rcan", "rcan", type=click.Path(dir_okay=False), default=None,
    help="Credential to present: a credential JSON or an .aster-identity file (its node key is used).")


def parse_json_argument(text: str, what: str = "request") -> Any:
    """Parse a JSON argument, or raise a UsageError that points at the mistake."""
    from .jsontext import JsonLimit, loads

    try:
        return loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"the {what} is not valid JSON: {exc.msg} at column {exc.colno}: {text[:60]!r}",
                         "Quote the whole object for your shell, e.g. '{\"name\": \"value\"}'.") from None
    except JsonLimit as exc:
        raise UsageError(f"the {what} cannot be sent: {exc}",
                         "Send a flatter request with numbers a 64-bit field can hold.") from None


class Seconds(click.ParamType):
    """A number of seconds: finite and above zero (``inf``, ``nan``, ``0`` and ``-1`` are refused)."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        else:
            try:
                number = float(str(value).strip())
            except ValueError:
                number = math.nan
        if not (math.isfinite(number) and number > 0):
            flag = param.opts[0] if param is not None and param.opts else "the timeout"
            raise UsageError(f"{flag} must be a positive number of seconds, not {str(value)[:40]!r}",
                             f"For example: {flag} 10.")
        return number


#: ``--timeout SECONDS`` and the like (the MCP family's ``--connect-timeout`` too)
SECONDS = Seconds()


def _stdin_items() -> Any:
    """Request items from JSON lines on stdin, read as they are typed."""
    import asyncio

    async def items():
        loop = asyncio.get_running_loop()
        number = 0
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            number += 1
            if line.strip():
                yield parse_json_argument(line, f"item on stdin line {number}")
    return items()


@click.command("call")
@click.argument("address")
@click.argument("target", metavar="SERVICE.METHOD", required=False)
@click.argument("request", metavar="['JSON']", required=False)
@click.option("--items", "items_json", default=None, metavar="JSON",
              help="Client/bidi streams: a JSON array of requests (default: JSON lines on stdin).")
@rcan_option
@click.option("--timeout", type=SECONDS, default=DEFAULT_TIMEOUT, show_default=True,
              help="Seconds the whole command may take: connecting, reading the schema and the call "
                   "(with --batch: connecting, and each call).")
@click.option("-H", "--header", "headers", multiple=True, metavar="KEY=VALUE",
              help="Request metadata sent with the call (repeatable).")
@click.option("-d", "--data", default=None, metavar="JSON|@FILE|@-",
              help="The request: JSON text, @FILE to read it from a file, @- from stdin.")
@click.option("-v", "--verbose", is_flag=True,
              help="On stderr: the address, credential, method pattern, metadata, timings and trailer.")
@click.option("--batch", is_flag=True,
              help="Run the calls stdin lists as JSON lines over one connection; one JSON result line each.")
@click.option("--parallel", type=click.IntRange(1, MAX_PARALLEL), default=None, metavar="N",
              help=f"With --batch: calls in flight at once (default {BATCH_PARALLEL}).")
@click.option("--fail-fast", is_flag=True, help="With --batch: stop at the first failure, cancel the rest.")
@json_option
def call(address: str, target: str, request: str | None, items_json: str | None, rcan: str | None,
         timeout: float, headers: tuple[str, ...], data: str | None, verbose: bool, batch: bool,
         parallel: int | None, fail_fast: bool, as_json: bool) -> None:
    """Call SERVICE.METHOD on the peer at ADDRESS and print the result as JSON.

    \b
    ADDRESS: an aster1... ticket, a base64 NodeAddr, a 64-hex endpoint id, a
    peer name from ./.aster-identity, or @handle/Service from the registry
    (then `aster call @handle/Service.method 'JSON'` works too). Use SERVICE@N.METHOD for version N of a
    service (the highest version is the default). Streamed results print one
    JSON document per line as they arrive; client and bidi streams read their
    requests from --items or from JSON lines on stdin. Session-scoped services
    are called through a one-call session.

    \b
    --batch reads {"method": "Svc.m", "args": {...}, "metadata": {...}} lines
    from stdin and writes one result line each, in input order, with its
    status (ok, error, invalid, cancelled). Exit 0 when every call succeeded,
    1 when any did not.

    \b
    Exit codes: 0 ok, 1 call failed, 2 bad input (JSON, fields, flags),
    3 denied (admission or role), 4 service or method not found,
    7 peer unreachable or timed out.
    """
    from .metadata import parse_headers

    metadata = parse_headers(headers)
    if batch:
        from .calling import run_batch_call

        if target is not None or request is not None or items_json is not None or data is not None:
            raise UsageError("--batch reads the calls from stdin: give only the ADDRESS",
                             "For example: printf '{\"method\": \"Svc.m\", \"args\": {}}\\n' | aster call ADDR --batch.")
        run_batch_call(address, rcan=rcan, timeout=timeout, metadata=metadata, verbose=verbose,
                       parallel=parallel or BATCH_PARALLEL, fail_fast=fail_fast)
    if parallel is not None or fail_fast:
        raise UsageError("--parallel and --fail-fast are for --batch", "Add --batch, or drop them.")
    if address.startswith("@") and "." in address.partition("/")[2]:
        # @handle/Service.method ['JSON']: the registry address and the target in one word
        if request is not None:
            raise UsageError("too many arguments after @handle/Service.method",
                             "Give the request JSON only: aster call @alice/TaskService.get '{\"id\": 7}'.")
        ref, request = address, target
        address = ref.rsplit(".", 1)[0]
        target = ref.partition("/")[2]
    if target is None:
        raise UsageError("missing SERVICE.METHOD", "For example: aster call aster1... EchoService.echo '{}'.")
    service, method = split_target(target)
    if data is not None and request is not None:
        raise UsageError("give the request once: as the JSON argument or with -d", "Drop one of them.")
    if data is not None:
        from .body import read_body

        payload = read_body(data)
    else:
        payload = None if request is None else parse_json_argument(request)
    items = None
    if items_json is not None:
        items = parse_json_argument(items_json, "--items value")
        if not isinstance(items, list):
            raise UsageError("--items must be a JSON array of request objects", "For example: --items '[{}, {}]'.")
    from .calling import run_call

    run_call(address, service, method, payload, items, rcan=rcan, timeout=timeout, as_json=as_json,
             stdin_items=_stdin_items, metadata=metadata, verbose=verbose)


@click.command("shell")
@click.argument("address", required=False)
@rcan_option
@click.option("--timeout", type=SECONDS, default=DEFAULT_TIMEOUT, show_default=True,
              help="Seconds allowed for connecting, and for each call.")
@click.option("--demo", is_flag=True, help="Explore a live sample peer started on this machine (also: no ADDRESS).")
@click.option("--air-gapped", is_flag=True, help="Use no registry: no @handle/Service, no registry shell commands.")
@json_option
@click.pass_context
def shell(ctx: click.Context, address: str | None, rcan: str | None, timeout: float, demo: bool, air_gapped: bool,
          as_json: bool) -> None:
    """Explore the services of the peer at ADDRESS and call them interactively.

    \b
    A virtual tree /services/<Service>/<method>: cd, ls, pwd, describe,
    invoke, ./method, session <Service>, help, exit. Arguments are JSON or
    key=value words (dotted keys nest; plain words fill the request's fields
    in order). When stdin is not a terminal, commands are read line by line;
    with --json only JSON lines are written to stdout. The exit status is
    that of the first failed command (codes as for aster call). Without
    ADDRESS (or with --demo) the shell explores a sample peer it starts.
    """
    if demo or address is None:
        if address is not None or rcan is not None:
            raise UsageError("--demo starts its own peer", "drop ADDRESS and --rcan, or drop --demo")
        from .demo_shell import run_demo_shell

        ctx.exit(run_demo_shell(timeout=timeout, as_json=as_json, air_gapped=air_gapped))
    from .shell import run_shell

    ctx.exit(run_shell(address, rcan=rcan, timeout=timeout, as_json=as_json, air_gapped=air_gapped))

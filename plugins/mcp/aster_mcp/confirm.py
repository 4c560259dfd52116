"""``--confirm``: ask the human, through the MCP client, before a call runs.

Nothing is ever read from stdin (that is the protocol's pipe). The question
goes out as an MCP elicitation:

- protocol 2026-07-28 and later: the call answers ``input_required`` with the
  question, and the client retries the call carrying the user's answer;
- earlier protocols: an ``elicitation/create`` request is sent mid-call.

A client that declared no (form) elicitation support cannot ask, so the call
is refused. Only an explicit ``approve: true`` lets the call through.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

INPUT_KEY = "aster_confirm"
_MODERN = "2026-07-28"
_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approve": {"type": "boolean", "title": "Approve",
                    "description": "Run this call against the live service?"},
    },
    "required": ["approve"],
}


@dataclass(frozen=True)
class Refusal:
    """Why a confirmed call did not run (a tool error for the agent)."""

    status: str
    message: str


#: the most characters of arguments a question shows; a call with more is refused unasked,
#: because a user cannot approve what they are not shown (and nothing is ever cut)
MAX_SHOWN = 100_000


def question(tool_name: str, arguments: Mapping[str, Any] | None) -> str | None:
    """The question showing every argument, or ``None`` when they are too long to show."""
    shown = json.dumps(arguments or {}, indent=1, ensure_ascii=False, sort_keys=True)
    if len(shown) > MAX_SHOWN:
        return None
    return f"An agent wants to call {tool_name} on a live Aster service with:\n{shown}\nApprove?"


def _can_ask(capabilities: Any) -> bool:
    elicitation = getattr(capabilities, "elicitation", None) if capabilities is not None else None
    if elicitation is None:
        return False
    # A bare `elicitation: {}` means form support; url-only clients cannot show a form.
    return elicitation.form is not None or elicitation.url is None


def _decide(tool_name: str, answer: Any) -> Refusal | None:
    action = getattr(answer, "action", None)
    content = getattr(answer, "content", None) or {}
    if action == "accept" and content.get("approve") is True:
        return None
    what = "declined" if action in ("accept", "decline") else "cancelled"
    return Refusal("CANCELLED", f"the user {what} the call to {tool_name}; it was not made")


async def confirm(ctx: Any, params: Any, tool_name: str) -> Refusal | Any | None:
    """``None`` to go ahead, a :class:`Refusal`, or an ``InputRequiredResult`` to return as is."""
    import mcp_types as types
    from mcp_types.version import is_version_at_least

    text = question(tool_name, params.arguments)
    if text is None:
        return Refusal("FAILED_PRECONDITION",
                       f"the arguments of this call to {tool_name} are too long to show for confirmation "
                       f"(more than {MAX_SHOWN:,} characters as JSON), so the user was not asked and the call "
                       "was not made; send smaller arguments")
    if not _can_ask(ctx.session.client_capabilities):
        return Refusal("FAILED_PRECONDITION",
                       f"{tool_name} needs the user's confirmation (--confirm), but this MCP client cannot ask "
                       "(it does not support elicitation); the call was not made")
    if is_version_at_least(ctx.protocol_version, _MODERN):
        answer = (params.input_responses or {}).get(INPUT_KEY)
        if answer is None:
            request = types.ElicitRequest(params=types.ElicitRequestFormParams(message=text,
                                                                               requested_schema=_SCHEMA))
            return types.InputRequiredResult(input_requests={INPUT_KEY: request})
        if not isinstance(answer, types.ElicitResult):
            return Refusal("INVALID_ARGUMENT", "the confirmation answer was not an elicitation result")
        return _decide(tool_name, answer)
    try:
        answer = await ctx.session.elicit_form(text, _SCHEMA, related_request_id=ctx.request_id)
    except Exception as exc:  # noqa: BLE001 - the client failed to ask: refuse, do not run
        return Refusal("FAILED_PRECONDITION", f"could not ask the user to confirm {tool_name} ({exc}); "
                                              "the call was not made")
    return _decide(tool_name, answer)

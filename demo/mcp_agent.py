"""A minimal AI-agent stand-in for the demo: the official MCP SDK client driving `aster mcp`.

    python demo/mcp_agent.py ADDRESS

It starts `aster mcp ADDRESS --confirm CounterSession.reset` over stdio, lists
the tools, and calls a few; the confirmation is answered by the callback below
(a real client would ask its user).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

import mcp_types as types
from mcp import Client, StdioServerParameters

CALLS = [
    ("EchoService.echo", {"text": "hi", "times": 2, "inner": {"label": "x"}}),
    ("EchoService.v1.count", {"n": 1000, "_max_items": 3}),
    ("CounterSession.add", {"amount": 5}),
    ("CounterSession.add", {"amount": 2}),
    ("CounterSession.reset", {}),
    ("EchoService.echo", {"times": "two"}),
]


async def approve(context, params):
    print(f"  (the user was asked: {params.message.splitlines()[0]} -> yes)")
    return types.ElicitResult(action="accept", content={"approve": True})


async def main(address: str) -> int:
    # MCP clients start servers with a minimal environment unless given one.
    server = StdioServerParameters(command="aster", args=["mcp", address, "--confirm", "CounterSession.reset"],
                                   env=dict(os.environ))
    async with Client(server, elicitation_callback=approve) as agent:
        tools = (await agent.list_tools()).tools
        print("tools:", ", ".join(t.name for t in tools))
        for name, args in CALLS:
            result = await agent.call_tool(name, args)
            text = result.content[0].text if result.content else json.dumps(result.structured_content)
            print(f"{name} {json.dumps(args)}\n  -> {'tool error: ' if result.is_error else ''}{text}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1])))

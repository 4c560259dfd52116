"""A minimal AI-agent stand-in for the demo: the official MCP SDK client driving `aster mcp`.

    python demo/mcp_agent.py ADDRESS

It starts `aster mcp ADDRESS --deny TaskBoard.clear --confirm Draft.discard` over stdio
(ADDRESS serving the example's TaskBoard and Draft, examples/tasks-service), lists the tools,
and calls a few; the confirmation is answered by the callback below (a real client would ask
its user).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

import mcp_types as types
from mcp import Client, StdioServerParameters

CALLS = [
    ("TaskBoard.add", {"title": "summarise the week", "tags": ["agent"]}),
    ("TaskBoard.list", {"_max_items": 2}),
    ("Draft.add", {"title": "book the venue"}),
    ("Draft.add", {"title": "send the invitations"}),
    ("Draft.discard", {}),
    ("Draft.show", {}),
    ("TaskBoard.add", {"title": 5}),
]


async def approve(context, params):
    print(f"  (the user was asked: {params.message.splitlines()[0]} -> yes)")
    return types.ElicitResult(action="accept", content={"approve": True})


async def main(address: str) -> int:
    # MCP clients start servers with a minimal environment unless given one.
    argv = ["mcp", address, "--deny", "TaskBoard.clear", "--confirm", "Draft.discard"]
    server = StdioServerParameters(command="aster", args=argv, env=dict(os.environ))
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

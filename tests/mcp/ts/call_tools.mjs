// The official TypeScript MCP SDK client (the one both MCP Inspectors use) driving `aster mcp` over stdio.
// usage: node call_tools.mjs COMMAND ARGS_JSON CALLS_JSON  -> prints one JSON array of outcomes
// Each call is [tool, arguments] or [tool, arguments, abortAfterMs]: the last aborts the call after that
// many milliseconds (the SDK then sends notifications/cancelled, as an agent's "stop" does).
// An outcome is {ok: true, result} or {ok: false, error: message}.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [command, argsJson, callsJson] = process.argv.slice(2);
const transport = new StdioClientTransport({ command, args: JSON.parse(argsJson), env: process.env, stderr: "ignore" });
const client = new Client({ name: "aster-ts-test", version: "1.0.0" });
await client.connect(transport);
const tools = await client.listTools(); // the SDK caches each tool's outputSchema and validates results against it
const outcomes = [];
for (const [name, args, abortAfterMs] of JSON.parse(callsJson)) {
  const options = abortAfterMs == null ? undefined : { signal: AbortSignal.timeout(abortAfterMs) };
  try {
    outcomes.push({ ok: true, result: await client.callTool({ name, arguments: args }, undefined, options) });
  } catch (error) {
    outcomes.push({ ok: false, error: String(error?.message ?? error) });
  }
}
console.log(JSON.stringify({ tools: tools.tools.map((t) => t.name), outcomes }));
await client.close();

// The official TypeScript MCP SDK client offering an older protocol version in `initialize`
// (as a client built on an older SDK does), then listing and calling tools through `aster mcp`.
// usage: node old_version.mjs COMMAND ARGS_JSON VERSION TOOL ARGUMENTS_JSON
//   -> prints {initialize: <the server's raw initialize result>, tools: [...names], call: <result>}
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [command, argsJson, version, tool, argumentsJson] = process.argv.slice(2);
const transport = new StdioClientTransport({ command, args: JSON.parse(argsJson), env: process.env, stderr: "ignore" });
const send = transport.send.bind(transport);
let initializeId = null;
transport.send = (message, options) => {
  if (message.method === "initialize") {
    message = { ...message, params: { ...message.params, protocolVersion: version } };
    initializeId = message.id;
  }
  return send(message, options);
};
let initialize = null;
let handler;
Object.defineProperty(transport, "onmessage", {   // the SDK's Protocol installs its handler here
  get: () => handler,
  set: (next) => {
    handler = (message, extra) => {
      if (initializeId !== null && message.id === initializeId && initialize === null) initialize = message.result;
      return next?.(message, extra);
    };
  },
});
const client = new Client({ name: "aster-ts-old-client", version: "0.9.0" });
await client.connect(transport);
const tools = await client.listTools();
const call = await client.callTool({ name: tool, arguments: JSON.parse(argumentsJson) });
console.log(JSON.stringify({ initialize, tools: tools.tools.map((t) => t.name), call }));
await client.close();

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  getDefaultEnvironment,
  StdioClientTransport,
} from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Order } from '../../client/autopay-client.ts';

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * An MCP client, the SDK's own, connected over stdio to `mcp/main.ts` in a child process (what
 * `npm run -s mcp` runs), as an MCP host would start it from its configuration.
 */
export async function connectMcp(env: Record<string, string>): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', 'tsx', 'mcp/main.ts'],
    cwd: projectRoot,
    env: { ...getDefaultEnvironment(), ...env },
    stderr: 'inherit',
  });
  const client = new Client({ name: 'autopay-tests', version: '0.0.0' });
  await client.connect(transport);
  return client;
}

export type ToolAnswer = CallToolResult & { text: string };

export async function callTool(
  client: Client,
  name: string,
  args: Record<string, unknown>,
): Promise<ToolAnswer> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  const text = result.content.map((part) => (part.type === 'text' ? part.text : '')).join('\n');
  return { ...result, text };
}

/** The order a tool answered with. */
export function orderOf(answer: ToolAnswer): Order {
  const order = (answer.structuredContent as { order?: Order } | undefined)?.order;
  if (order === undefined) throw new Error(`no order in the tool's answer: ${answer.text}`);
  return order;
}

/**
 * `npm run -s mcp`: autopay's MCP server over stdio (the default), or over streamable HTTP with
 * `MCP_TRANSPORT=http` (`MCP_PORT`, default 3334, on 127.0.0.1 only).
 *
 * AUTOPAY_API_URL  the API's base URL (http://127.0.0.1:3000 for `npm start`)
 * AUTOPAY_TOKEN    the agent's bearer token
 * AUTOPAY_SESSION_ID  optional: the session the agent's orders belong to, e.g. the host's
 *                  conversation id. Without it each stdio process, and each HTTP session, is
 *                  a session of its own. Set it when the host may restart the server within
 *                  one conversation, so a retry after a restart still replays.
 *
 * stdout belongs to the protocol: everything else is written to stderr.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { AutopayClient } from '../client/autopay-client.ts';
import { createAutopayMcpServer } from './server.ts';

export interface McpSettings {
  readonly apiUrl: string;
  readonly token: string;
  readonly sessionId: string | undefined;
  readonly transport: 'stdio' | 'http';
  readonly port: number;
}

export function readSettings(env: NodeJS.ProcessEnv): McpSettings {
  const missing = ['AUTOPAY_API_URL', 'AUTOPAY_TOKEN'].filter((name) => !env[name]);
  if (missing.length > 0) throw new Error(`autopay MCP server: set ${missing.join(' and ')}`);
  const transport = env.MCP_TRANSPORT ?? 'stdio';
  if (transport !== 'stdio' && transport !== 'http') {
    throw new Error(`autopay MCP server: MCP_TRANSPORT is stdio or http, not ${transport}`);
  }
  const port = Number(env.MCP_PORT ?? 3334);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error(`autopay MCP server: MCP_PORT is a port number, not ${env.MCP_PORT}`);
  }
  return {
    apiUrl: env.AUTOPAY_API_URL as string,
    token: env.AUTOPAY_TOKEN as string,
    sessionId: env.AUTOPAY_SESSION_ID || undefined,
    transport,
    port,
  };
}

export const clientFor = (settings: McpSettings) =>
  new AutopayClient({ baseUrl: settings.apiUrl, token: settings.token });

const newSessionId = () => `mcp_${randomUUID()}`;

export async function serveStdio(settings: McpSettings, client: AutopayClient): Promise<void> {
  const server = createAutopayMcpServer({
    client,
    sessionId: settings.sessionId ?? newSessionId(),
  });
  await server.connect(new StdioServerTransport());
}

/** One MCP session per client, each its own autopay session unless AUTOPAY_SESSION_ID is set. */
export async function serveHttp(settings: McpSettings, client: AutopayClient): Promise<Server> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const http = createServer(async (request, response) => {
    const named = request.headers['mcp-session-id'];
    if (typeof named === 'string') {
      const known = transports.get(named);
      if (known) return known.handleRequest(request, response);
      // An ended or unknown session: 404 tells the client to start a new one.
      const error = {
        jsonrpc: '2.0',
        error: { code: -32001, message: 'Session not found' },
        id: null,
      };
      response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify(error));
      return;
    }
    const sessionId = newSessionId();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => sessionId,
      onsessioninitialized: (id) => void transports.set(id, transport),
      onsessionclosed: (id) => void transports.delete(id),
    });
    const server = createAutopayMcpServer({ client, sessionId: settings.sessionId ?? sessionId });
    await server.connect(transport);
    await transport.handleRequest(request, response);
  });
  await new Promise<void>((resolve) => http.listen(settings.port, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  console.error(`autopay MCP server on http://127.0.0.1:${port}/mcp`);
  return http;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    const settings = readSettings(process.env);
    const client = clientFor(settings);
    await (settings.transport === 'http' ? serveHttp : serveStdio)(settings, client);
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}

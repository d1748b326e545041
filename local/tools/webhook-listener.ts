import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { notificationEventTypes } from '#domain/notifications.ts';
import { signatureHeader } from '#domain/webhook-delivery.ts';
import { verifyWebhookSignature } from '#domain/webhook-signature.ts';
import { signOwnerToken } from '../runtime/auth.ts';
import { endpointsFile, type LocalEndpoints } from '../runtime/startup.ts';

/**
 * `npm run webhook-listener -- <agentId>`: a webhook endpoint of the agent's user on this
 * machine. It registers itself with the running local API, prints each event it receives once
 * its Autopay-Signature verifies, and deletes its registration on Ctrl-C.
 */
const usage = 'usage: npm run webhook-listener -- <agentId> [--port <n>] [--events a,b]\n';
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { port: { type: 'string' }, events: { type: 'string' } },
});
const [agentId] = positionals;
if (!agentId || positionals.length > 1) {
  process.stderr.write(usage);
  process.exit(2);
}

function apiUrl(): string {
  try {
    return (JSON.parse(readFileSync(endpointsFile, 'utf8')) as LocalEndpoints).api;
  } catch {
    return `http://127.0.0.1:${process.env.PORT ?? '3000'}`;
  }
}

const api = apiUrl();
const token = await signOwnerToken(agentId);
const auth = { authorization: `Bearer ${token}` };
let secret = '';

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    try {
      verifyWebhookSignature({
        header: req.headers[signatureHeader] as string | undefined,
        body,
        secrets: [secret],
        nowSeconds: Math.floor(Date.now() / 1000),
      });
    } catch (error) {
      process.stdout.write(`✗ refused (${(error as Error).message}): ${body.slice(0, 120)}\n`);
      res.writeHead(400).end();
      return;
    }
    const event = JSON.parse(body) as {
      id: string;
      type: string;
      sequence?: number;
      data: { order?: { orderId: string; status: string }; reason?: string };
    };
    const about = event.data.order
      ? `${event.data.order.orderId} ${event.data.order.status}${event.data.reason ? ` (${event.data.reason})` : ''}`
      : JSON.stringify(event.data);
    process.stdout.write(`✓ ${event.type} ${event.id} seq=${event.sequence ?? '-'} ${about}\n`);
    res.writeHead(200).end();
  });
});
await new Promise<void>((resolve) => server.listen(Number(values.port ?? 0), '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;

const registered = await fetch(`${api}/v1/webhook-endpoints`, {
  method: 'POST',
  headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
  body: JSON.stringify({
    url,
    events: values.events?.split(',') ?? [...notificationEventTypes],
  }),
}).catch((error: Error) => {
  process.stderr.write(`Cannot reach ${api} (${error.message}): is npm start running?\n`);
  process.exit(1);
});
const answer = (await registered.json()) as { id?: string; secret?: string };
if (registered.status !== 201 || !answer.id || !answer.secret) {
  process.stderr.write(`Registering answered ${registered.status}: ${JSON.stringify(answer)}\n`);
  process.exit(1);
}
secret = answer.secret;
process.stdout.write(
  `Listening on ${url} as endpoint ${answer.id} of ${agentId}'s user; Ctrl-C to stop.\n`,
);

process.once('SIGINT', async () => {
  await fetch(`${api}/v1/webhook-endpoints/${answer.id}`, { method: 'DELETE', headers: auth });
  server.close();
  process.exit(0);
});

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { gatewayEventTypes } from '#domain/callbacks.ts';
import { signWebhookPayload } from '#domain/webhook-signature.ts';
import { localCallbackUrl, localWebhookSecret } from './local-runtime.ts';
import { endpointsFile, type LocalEndpoints } from './startup.ts';

/**
 * `npm run callback -- <type> <orderId> <amount> [currency]`: posts a gateway event to the
 * running local API, signed as the gateway signs it (Stripe-Signature, HMAC-SHA256 of
 * "<t>.<body>" under the local webhook secret), and prints the answer. Exits 1 on anything but
 * 2xx, so a script notices a refusal.
 */
const usage =
  'usage: npm run callback -- <type> <orderId> <amount> [currency] [--payment <id>] ' +
  `[--refund <id>] [--decline <code>] [--secret <s>] [--url <callback url>]\n  types: ${gatewayEventTypes.join(', ')}\n` +
  '  e.g. npm run callback -- payment.succeeded ord_0123... 450 CNY\n';

function fail(message: string): never {
  process.stderr.write(`npm run callback: ${message}\n${usage}`);
  process.exit(2);
}

const { values, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        payment: { type: 'string' },
        refund: { type: 'string' },
        decline: { type: 'string' },
        secret: { type: 'string' },
        url: { type: 'string' },
      },
    });
  } catch (error) {
    return fail((error as Error).message);
  }
})();
const [type, orderId, amountText, currency = 'CNY'] = positionals;
if (!type || !orderId || !amountText || positionals.length > 4) fail('wrong arguments');
if (!(gatewayEventTypes as readonly string[]).includes(type)) fail(`unknown event type ${type}`);
const amount = Number(amountText);
if (!Number.isInteger(amount) || amount < 0) {
  fail(`the amount is an integer in minor units (450 = 4.50), not ${amountText}`);
}

/**
 * The running stack's callback URL and secret, from what `npm start` wrote; PORT's and the
 * local secret otherwise, or when --url names another stack.
 */
function target(): { url: string; secret: string } {
  if (values.url !== undefined) return { url: values.url, secret: localWebhookSecret };
  try {
    const endpoints = JSON.parse(readFileSync(endpointsFile, 'utf8')) as LocalEndpoints;
    return endpoints.callbacks;
  } catch {
    const port = process.env.PORT ?? process.env.AUTOPAY_PORT ?? '3000';
    return { url: localCallbackUrl(`http://127.0.0.1:${port}`), secret: localWebhookSecret };
  }
}

const { url, secret: running } = target();
const secret = values.secret ?? running;
const body = JSON.stringify({
  id: `evt_${randomBytes(12).toString('hex')}`,
  type,
  created: Math.floor(Date.now() / 1000),
  data: {
    paymentId: values.payment ?? `pay_${randomBytes(12).toString('hex')}`,
    idempotencyKey: orderId,
    amount,
    currency,
    ...(values.decline !== undefined ? { declineCode: values.decline } : {}),
    ...(values.refund !== undefined ? { refundId: values.refund } : {}),
  },
});

let response: Response;
try {
  response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'stripe-signature': signWebhookPayload(body, [secret], Math.floor(Date.now() / 1000)),
    },
    body,
  });
} catch (error) {
  process.stderr.write(
    `npm run callback: nothing answers at ${url} (${String((error as Error).cause ?? error)}): is npm start running?\n`,
  );
  process.exit(1);
}
process.stdout.write(`POST ${url}\n${body}\n${response.status} ${await response.text()}\n`);
process.exitCode = response.ok ? 0 : 1;

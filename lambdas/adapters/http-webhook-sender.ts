import type { WebhookAnswer, WebhookSender } from '#domain/webhook-delivery.ts';

/** POSTs an event with a hard timeout; never follows a redirect to somewhere else. */
export class HttpWebhookSender implements WebhookSender {
  constructor(private readonly timeoutMs: number) {}

  async post(
    url: string,
    body: string,
    headers: Readonly<Record<string, string>>,
  ): Promise<WebhookAnswer> {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { ...headers, 'user-agent': 'autopay-webhooks/1' },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      // The answer's body is not read: only its status matters, and the socket is freed.
      await response.body?.cancel();
      return { kind: 'answered', status: response.status };
    } catch (error) {
      const name = error instanceof Error ? error.name : 'Error';
      return {
        kind: 'unreachable',
        reason:
          name === 'TimeoutError' ? `no answer in ${this.timeoutMs} ms` : `unreachable (${name})`,
      };
    }
  }
}

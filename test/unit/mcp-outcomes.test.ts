import { describe, expect, it } from 'vitest';
import { AutopayApiError, type Order } from '../../client/autopay-client.ts';
import { errorCatalogue } from '../../lambdas/domain/errors.ts';
import { orderStatuses } from '../../lambdas/domain/order-state.ts';
import { describeOrder, errorResult, type Operation } from '../../mcp/outcomes.ts';

/** Codes only the gateway's callbacks get: an agent's tool never meets them. */
const callbackOnly = [
  'SIGNATURE_MISSING',
  'SIGNATURE_INVALID',
  'TIMESTAMP_OUT_OF_TOLERANCE',
  'UNKNOWN_GATEWAY',
];
/**
 * Codes only the user's app gets: its agents and webhook endpoints, and an `agentId` filter of
 * the listing, which no agent tool sends. Every other code of the catalogue is an agent's, so a
 * new code needs its advice in mcp/outcomes.ts or a place in one of these lists.
 */
const userOnly = [
  'INVALID_WEBHOOK_URL',
  'INVALID_WEBHOOK_EVENTS',
  'WEBHOOK_ENDPOINT_NOT_FOUND',
  'WEBHOOK_ENDPOINT_LIMIT_REACHED',
  'AGENT_NOT_FOUND',
];
const notAgents = new Set([...callbackOnly, ...userOnly]);
/** Codes the client gives answers without one. */
const clientOnly = { NETWORK_ERROR: 0 };
const statusOf = (code: string) =>
  (errorCatalogue as Record<string, { status: number }>)[code]?.status ??
  (clientOnly as Record<string, number>)[code] ??
  0;
const agentCodes = [
  ...Object.keys(errorCatalogue).filter((code) => !notAgents.has(code)),
  ...Object.keys(clientOnly),
];
/** The codes whose advice is the one a code unknown to the server gets by its status. */
const adviceOfItsStatus = new Set([
  'FORBIDDEN',
  'RATE_LIMITED',
  'INTERNAL_ERROR',
  'SERVICE_UNAVAILABLE',
]);
const operations: Operation[] = ['place', 'read', 'list', 'cancel'];

const textOf = (result: ReturnType<typeof errorResult>) =>
  result.content.map((part) => (part.type === 'text' ? part.text : '')).join('\n');

describe('what the MCP tools tell the model', () => {
  it('answers a cancel of an order whose payment started by sending the model to the user for a refund', () => {
    const error = new AutopayApiError(409, 'ILLEGAL_TRANSITION', 'said', {
      requestId: 'req-9',
      currentStatus: 'PAID',
    });

    const cancel = textOf(errorResult(error, 'cancel'));
    const read = textOf(errorResult(error, 'read'));

    expect(cancel).toMatch(/The order is PAID: .*ask the user to request a refund in their app/);
    expect(read).not.toMatch(/refund/);
  });

  it("classifies every code of the catalogue: an agent's, or only a callback's or a user's", () => {
    const catalogue = Object.keys(errorCatalogue);

    expect(catalogue).toEqual(expect.arrayContaining([...notAgents]));
    expect(agentCodes).toEqual(expect.arrayContaining(['AGENT_SUSPENDED', 'INVALID_CURSOR']));
  });

  it.each(agentCodes)(
    'turns %s into a tool error with its code and a specific thing to do',
    (code) => {
      for (const operation of operations) {
        const status = statusOf(code);
        const error = new AutopayApiError(status, code, 'said', { requestId: 'req-9' }, 2);
        const unknown = new AutopayApiError(status, 'NEW_CODE', 'said', { requestId: 'req-9' }, 2);

        const result = errorResult(error, operation);

        expect(result.isError).toBe(true);
        expect(textOf(result)).toMatch(new RegExp(`^${code}: said \\(.*request req-9\\)\\. `));
        expect(textOf(result)).not.toMatch(/gives the same answer: tell the user/);
        if (!adviceOfItsStatus.has(code)) {
          const advice = textOf(result).replace(/^\w+: /, '');
          expect(advice).not.toBe(textOf(errorResult(unknown, operation)).replace(/^\w+: /, ''));
        }
        expect(result.structuredContent).toMatchObject({ error: { code, requestId: 'req-9' } });
      }
    },
  );

  it.each([
    ['AGENT_SUSPENDED', /suspended this agent.*until the user resumes/],
    ['AGENT_NOT_REGISTERED', /create the agent in their app/],
    ['INVALID_CURSOR', /without cursor/],
  ])('tells the model what %s means for it', (code, said) => {
    const error = new AutopayApiError(statusOf(code), code, 'said');

    expect(textOf(errorResult(error, code === 'INVALID_CURSOR' ? 'list' : 'place'))).toMatch(said);
  });

  it('tells the model that an order whose outcome is unknown may be placed again safely', () => {
    const result = errorResult(new AutopayApiError(503, 'SERVICE_UNAVAILABLE', 'down'), 'place');

    expect(textOf(result)).toMatch(/outcome is unknown.*safe.*never charges twice/);
  });

  it('says how long to wait when throttled', () => {
    const result = errorResult(new AutopayApiError(429, 'RATE_LIMITED', 'slow', {}, 7), 'place');

    expect(textOf(result)).toMatch(/wait 7 s, then call again with the same arguments/);
  });

  it.each([
    [403, /only the user can/],
    [429, /then call again with the same arguments/],
    [503, /outcome is unknown/],
    [400, /Nothing was done\. Calling again with the same arguments gives the same answer/],
  ])('reads a code it does not know by its status, %i', (status, said) => {
    const result = errorResult(new AutopayApiError(status, 'NEW_CODE', 'new'), 'place');

    expect(textOf(result)).toMatch(/^NEW_CODE: new /);
    expect(textOf(result)).toMatch(said);
  });

  it('sends the user to their app when the agent may not do something', () => {
    const result = errorResult(new AutopayApiError(403, 'FORBIDDEN', 'Forbidden'), 'read');

    expect(textOf(result)).toMatch(/only the user can, in their own app/);
  });

  it('lets anything that is not a refusal of the API through, for the SDK to report', () => {
    expect(() => errorResult(new Error('bug'), 'read')).toThrow('bug');
  });

  it.each([...orderStatuses])('says plainly whether an order %s was charged', (status) => {
    const order = {
      orderId: 'ord_1',
      status,
      amount: 450,
      currency: 'CNY',
      confirmBy: '2026-11-29T12:05:00.000Z',
      reason: 'OVER_DAILY_LIMIT',
    } as Order;

    const said = describeOrder(order);

    expect(said).toMatch(
      /^(CHARGED|NOT CHARGED|ACCEPTED, NOT YET CHARGED|PENDING SETTLEMENT|HELD FOR REVIEW|REFUNDED)/,
    );
    if (status === 'AWAITING_CONFIRMATION') {
      expect(said).toContain('before 2026-11-29T12:05:00.000Z');
      expect(said).toContain('it would take this agent over its daily limit');
    }
  });

  it("writes amounts in the currency's own units", () => {
    const paid = (amount: number, currency: string) =>
      describeOrder({ orderId: 'ord_1', status: 'PAID', amount, currency } as Order);

    expect(paid(450, 'CNY')).toContain('4.50 CNY was paid');
    expect(paid(450, 'JPY')).toContain('450 JPY was paid');
  });

  it('names the earlier order when the API suspects a duplicate', () => {
    const order = {
      orderId: 'ord_2',
      status: 'AWAITING_CONFIRMATION',
      amount: 450,
      currency: 'CNY',
      reason: 'POSSIBLE_DUPLICATE',
      duplicateOf: 'ord_1',
    } as unknown as Order;

    expect(describeOrder(order)).toMatch(
      /NOT CHARGED.*looks like a second copy of an order .* \(the earlier order: ord_1\)\. If the user wanted it once/,
    );
  });

  it.each([
    [{ status: 'AWAITING_CONFIRMATION', reason: 'AUTOPAY_PAUSED' }, /^NOT CHARGED.*paused/],
    [
      { status: 'HELD_FOR_REVIEW', holdReason: 'AUTHENTICATION_REQUIRED' },
      /^NOT CHARGED.*AUTHENTICATION_REQUIRED: .*asks the user to authenticate/,
    ],
    [
      { status: 'HELD_FOR_REVIEW', holdReason: 'AGENT_SUSPENDED' },
      /^HELD FOR REVIEW.*AGENT_SUSPENDED: the user suspended this agent/,
    ],
    [
      { status: 'HELD_FOR_REVIEW', holdReason: 'OVER_ORDER_LIMIT' },
      /^HELD FOR REVIEW.*OVER_ORDER_LIMIT: before the payment was sent, the user lowered/,
    ],
  ])('says what %o means for the model', (fields, said) => {
    const order = { orderId: 'ord_3', amount: 450, currency: 'CNY', ...fields } as Order;

    expect(describeOrder(order)).toMatch(said);
  });

  describe('an order held for review', () => {
    const heldAt = '2026-11-29T12:00:00.000Z';
    const held = (holdReason: string) =>
      ({
        orderId: 'ord_4',
        status: 'HELD_FOR_REVIEW',
        amount: 450,
        currency: 'CNY',
        holdReason,
        attempts: 0,
        history: [
          { from: null, to: 'PENDING_PAYMENT', at: '2026-11-29T11:59:59.000Z', cause: 'INTAKE' },
          { from: 'PENDING_PAYMENT', to: 'HELD_FOR_REVIEW', at: heldAt, cause: 'HELD_FOR_REVIEW' },
        ],
      }) as unknown as Order;
    const at = (iso: string) => new Date(iso);

    it.each(['RISK_REVIEW', 'RISK_UNAVAILABLE', 'AGENT_SUSPENDED', 'ACTION_NOT_TRUSTED'])(
      'held for %s, promises no "not charged" while a racing payment may still be found',
      (reason) => {
        // Act
        const said = describeOrder(held(reason), at('2026-11-29T12:01:00.000Z'));

        // Assess
        expect(said).not.toMatch(/NOT CHARGED/);
        expect(said).toMatch(/^HELD FOR REVIEW/);
        expect(said).toContain(
          'may still be found at the gateway by about 2026-11-29T12:05:00.000Z',
        );
        expect(said).toContain('do not tell the user that nothing was charged');
      },
    );

    it('says no charge is known once the lookup after the hold was due, without promising none', () => {
      // Act
      const said = describeOrder(held('RISK_REVIEW'), at('2026-11-29T12:06:00.000Z'));

      // Assess
      expect(said).not.toMatch(/NOT CHARGED/);
      expect(said).toContain('was due at 2026-11-29T12:05:00.000Z and has recorded none');
    });

    it("says not charged when the gateway's own answer held it for the card's authentication", () => {
      // Act
      const said = describeOrder(held('AUTHENTICATION_REQUIRED'), at('2026-11-29T12:01:00.000Z'));

      // Assess
      expect(said).toMatch(/^NOT CHARGED, HELD FOR REVIEW/);
      expect(said).toContain('the gateway asked for the authentication and took nothing');
    });
  });

  describe('an order closed where a racing payment may still be found', () => {
    const closed = (status: string, history: object[], fields: object = {}) =>
      ({
        orderId: 'ord_6',
        status,
        amount: 450,
        currency: 'CNY',
        attempts: 0,
        history,
        ...fields,
      }) as unknown as Order;
    const intake = { from: null, to: 'PENDING_PAYMENT', at: '2026-11-29T11:59:59.000Z' };
    const hold = { from: 'PENDING_PAYMENT', to: 'HELD_FOR_REVIEW', at: '2026-11-29T12:00:00.000Z' };
    const minuteLater = new Date('2026-11-29T12:01:00.000Z');

    it('cancelled while held: no promise until the lookup after the hold was due', () => {
      // Prepare
      const order = closed(
        'CANCELLED',
        [
          intake,
          hold,
          {
            from: 'HELD_FOR_REVIEW',
            to: 'CANCELLED',
            at: '2026-11-29T12:00:30.000Z',
            cause: 'CANCEL',
          },
        ],
        { holdReason: 'RISK_REVIEW' },
      );

      // Act
      const said = describeOrder(order, minuteLater);

      // Assess
      expect(said).toMatch(
        /^CANCELLED: this order will not be paid\. A payment sent for it just before may still be found at the gateway by about 2026-11-29T12:05:00\.000Z, and it is then given back automatically/,
      );
    });

    it('refused by the risk check: no promise until the lookup after the refusal was due', () => {
      // Prepare
      const refused = {
        from: 'PENDING_PAYMENT',
        to: 'FAILED',
        at: '2026-11-29T12:00:00.000Z',
        cause: 'RISK_REJECTED',
        errorCode: 'RISK_REJECTED',
      };

      // Act
      const said = describeOrder(closed('FAILED', [intake, refused]), minuteLater);

      // Assess
      expect(said).toMatch(
        /^FAILED: the payment failed \(RISK_REJECTED\)\. A payment sent for it just before may still be found/,
      );
    });

    it('cancelled while it waited for the user, or declined by the gateway: not charged', () => {
      // Prepare
      const waited = closed('CANCELLED', [
        {
          from: null,
          to: 'AWAITING_CONFIRMATION',
          at: '2026-11-29T12:00:00.000Z',
          cause: 'INTAKE',
        },
        {
          from: 'AWAITING_CONFIRMATION',
          to: 'CANCELLED',
          at: '2026-11-29T12:00:10.000Z',
          cause: 'CANCEL',
        },
      ]);
      const declined = closed(
        'FAILED',
        [
          intake,
          {
            from: 'PENDING_PAYMENT',
            to: 'FAILED',
            at: '2026-11-29T12:00:00.000Z',
            cause: 'GATEWAY_DECLINED',
          },
        ],
        { declineCode: 'card_declined' },
      );

      // Act / Assess
      expect(describeOrder(waited, minuteLater)).toBe(
        'NOT CHARGED, CANCELLED: this order will not be paid.',
      );
      expect(describeOrder(declined, minuteLater)).toMatch(
        /^NOT CHARGED, FAILED: the payment was declined \(card_declined\)/,
      );
    });
  });

  describe('an order owing a refund', () => {
    const owing = (fields: Partial<Order>) =>
      ({
        orderId: 'ord_5',
        status: 'REFUND_PENDING',
        amount: 450,
        currency: 'CNY',
        ...fields,
      }) as Order;

    it('says a refund waiting out the gateway key window is delayed and sent again in about a day', () => {
      // Act
      const said = describeOrder(owing({ lastError: 'REFUND_AFTER_KEY_WINDOW' }));

      // Assess
      expect(said).toMatch(/^CHARGED, REFUND DELAYED BY THE GATEWAY: 4\.50 CNY was taken/);
      expect(said).toContain(
        "waits out the gateway's idempotency-key window (about a day: 25 hours",
      );
      expect(said).toContain('sends the refund again by itself');
      expect(said).not.toContain('REFUND_AFTER_KEY_WINDOW');
    });

    it('says a refund the gateway failed after accepting it is paid back by a person', () => {
      // Act
      const said = describeOrder(
        owing({ lastError: 'REFUND_FAILED', refundFailure: 'expired_or_canceled_card' }),
      );

      // Assess
      expect(said).toMatch(/^CHARGED, REFUND FAILED AT THE GATEWAY \(expired_or_canceled_card\)/);
      expect(said).toContain("autopay's operators pay the user back another way");
      expect(said).not.toContain('being given back');
    });

    it.each(['REFUND_REJECTED', 'REDRIVE_LIMIT_REACHED'])(
      'says a refund stopped by %s is left to the operators',
      (lastError) => {
        expect(describeOrder(owing({ lastError }))).toMatch(
          /^CHARGED, REFUND STUCK.*operators are alerted and settle it by hand/,
        );
      },
    );

    it('says a refund on its way is being given back', () => {
      expect(describeOrder(owing({}))).toBe(
        'CHARGED, REFUND UNDER WAY: 4.50 CNY was taken and is being given back.',
      );
    });
  });
});

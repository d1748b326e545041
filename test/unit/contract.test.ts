import { describe, expect, it } from 'vitest';
import { latteOrder } from '../fixtures/orders.ts';
import { contractViolation } from '../support/contract.ts';

const json = (extra: Record<string, string> = {}) =>
  new Headers({ 'content-type': 'application/json', ...extra });
const api = 'http://127.0.0.1:3000';
const order = {
  ...latteOrder,
  orderId: `ord_${'a'.repeat(32)}`,
  status: 'PENDING_PAYMENT',
  attempts: 0,
  createdAt: '2026-11-29T20:00:00.000Z',
  updatedAt: '2026-11-29T20:00:00.000Z',
  history: [{ from: null, to: 'PENDING_PAYMENT', at: '2026-11-29T20:00:00.000Z', cause: 'INTAKE' }],
};
const error = (code: string) => JSON.stringify({ error: { code, message: 'm', requestId: 'r' } });

describe('the response contract check of the end-to-end tests', () => {
  it('passes answers docs/openapi.json describes', () => {
    expect(contractViolation('POST', `${api}/v1/orders`, 202, json(), JSON.stringify(order))).toBe(
      undefined,
    );
    expect(
      contractViolation(
        'POST',
        `${api}/v1/orders`,
        200,
        json({ 'idempotent-replayed': 'true' }),
        JSON.stringify(order),
      ),
    ).toBe(undefined);
    expect(
      contractViolation('GET', `${api}/v1/orders/ord_1`, 404, json(), error('ORDER_NOT_FOUND')),
    ).toBe(undefined);
    expect(
      contractViolation('GET', `${api}/v1/orders/ord_1`, 401, json(), '{"message":"Unauthorized"}'),
    ).toBe(undefined);
    expect(
      contractViolation('GET', `${api}/v1/nowhere`, 404, json(), '{"message":"Not Found"}'),
    ).toBe(undefined);
  });

  it('fails a status the operation does not list', () => {
    expect(contractViolation('GET', `${api}/v1/orders/ord_1`, 418, json(), '{}')).toContain(
      'a status the document does not list',
    );
  });

  it('fails a body off the documented schema', () => {
    const { history: _dropped, ...withoutHistory } = order;
    expect(
      contractViolation('POST', `${api}/v1/orders`, 202, json(), JSON.stringify(withoutHistory)),
    ).toContain("must have required property 'history'");
    expect(
      contractViolation('GET', `${api}/v1/orders/ord_1`, 404, json(), error('INVALID_AMOUNT')),
    ).toContain('off its schema');
    expect(contractViolation('POST', `${api}/v1/orders`, 202, json(), 'not json')).toContain(
      'not JSON',
    );
  });

  it('fails a documented header with a value off its schema', () => {
    expect(
      contractViolation(
        'POST',
        `${api}/v1/orders`,
        200,
        json({ 'idempotent-replayed': 'yes' }),
        JSON.stringify(order),
      ),
    ).toContain('Idempotent-Replayed');
  });

  it('fails an unknown route answered anything but API Gateway’s 404', () => {
    expect(contractViolation('GET', `${api}/v1/nowhere`, 200, json(), '{}')).toContain('not 404');
  });
});

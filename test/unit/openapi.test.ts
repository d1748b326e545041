import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { gatewayEventSchema, gatewayEventTypes } from '#domain/callbacks.ts';
import { errorCatalogue } from '#domain/errors.ts';
import { refundRequestSchema } from '#domain/lifecycle.ts';
import { openOrder, orderView } from '#domain/order.ts';
import { createOrderSchema } from '#domain/schemas.ts';
import { functionSpecs, wiring } from '#shared/wiring.ts';
import {
  buildOpenApi,
  intakePolicyFromWiring,
  openApiFile,
  orderViewSchema,
  routeDocs,
} from '../../local/tools/openapi.ts';

interface Operation {
  readonly security?: readonly Record<string, readonly string[]>[];
  readonly parameters?: readonly { name?: string; in?: string; $ref?: string }[];
  readonly requestBody?: { content: Record<string, { example?: unknown }> };
  readonly responses: Record<string, unknown>;
}

interface Document {
  readonly openapi: string;
  readonly info: { title: string; version: string; license?: { name: string } };
  readonly servers?: readonly { url: string; variables?: Record<string, { default: string }> }[];
  readonly paths: Record<string, Record<string, Operation>>;
  readonly components: {
    readonly schemas: Record<string, { properties?: Record<string, Record<string, unknown>> }>;
    readonly securitySchemes: Record<string, Record<string, unknown>>;
    readonly parameters: Record<string, { name: string; in: string }>;
    readonly headers: Record<string, unknown>;
  };
}

const document = buildOpenApi() as Document;
// The HTTP API's routes and the paths served at function URLs.
const routes = Object.values(functionSpecs).flatMap((spec) => [
  ...spec.routes,
  ...(spec.functionUrl ? [spec.functionUrl] : []),
]);

describe('docs/openapi.json', () => {
  it('is what `npm run openapi` builds from the code now', () => {
    const committed: unknown = JSON.parse(readFileSync(openApiFile, 'utf8'));
    expect(
      committed,
      'docs/openapi.json is stale: run `npm run openapi` and commit the result',
    ).toEqual(buildOpenApi());
  });

  it('is an OpenAPI 3.1 document with info, paths and components', () => {
    const packageJson = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(document.openapi).toBe('3.1.0');
    expect(document.info.title).toBe('autopay');
    expect(document.info.version).toBe(packageJson.version);
    expect(Object.keys(document.paths).length).toBeGreaterThan(0);
    expect(Object.keys(document.components.schemas).length).toBeGreaterThan(0);
    expect(document.components.securitySchemes.bearerJwt).toMatchObject({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
    });
    // Every local reference resolves.
    const text = JSON.stringify(document);
    for (const [, pointer] of text.matchAll(/"\$ref":"#\/([^"]+)"/g)) {
      const target = (pointer ?? '').split('/').reduce<unknown>((node, key) => {
        return typeof node === 'object' && node !== null
          ? (node as Record<string, unknown>)[key]
          : undefined;
      }, document);
      expect(target, `#/${pointer} resolves`).toBeDefined();
    }
  });

  it('names where the API is served and under which license, as Redocly requires', () => {
    const packageJson = JSON.parse(readFileSync('package.json', 'utf8')) as { license: string };
    expect(document.info.license).toEqual({ name: packageJson.license });
    const local = document.servers?.[0];
    expect(local?.url.replace('{port}', local.variables?.port?.default ?? '')).toBe(
      'http://127.0.0.1:3000',
    );
  });

  it('documents every route of the wiring with its method, security and answers', () => {
    expect(routes.length).toBeGreaterThan(0);
    expect(Object.keys(routeDocs).sort()).toEqual(
      routes.map((route) => `${route.method} ${route.path}`).sort(),
    );
    for (const route of routes) {
      const operation = document.paths[route.path]?.[route.method.toLowerCase()];
      expect(operation, `${route.method} ${route.path}`).toBeDefined();
      if (operation === undefined) continue;
      const pathNames = [...route.path.matchAll(/\{(\w+)\}/g)].map((found) => found[1]);
      const declared = (operation.parameters ?? [])
        .filter((parameter) => parameter.in === 'path')
        .map((parameter) => parameter.name);
      expect(declared).toEqual(pathNames);
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['500', '503']));
      if (route.auth === 'jwt') {
        // Any one of the route's scopes admits the token: one requirement per scope.
        const scopes = route.scopes ?? [];
        expect(operation.security).toEqual(
          scopes.length > 0 ? scopes.map((scope) => ({ bearerJwt: [scope] })) : [{ bearerJwt: [] }],
        );
        expect(operation.responses['401']).toEqual({ $ref: '#/components/responses/Unauthorized' });
        if (route.scopes?.length) {
          // API Gateway's own 403, alone or beside the function's coded ones.
          expect(JSON.stringify(operation.responses['403'])).toContain(
            '{\\"message\\":\\"Forbidden\\"}',
          );
        }
      } else {
        expect(operation.security).toEqual([]);
        expect(operation.responses['401']).toBeUndefined();
      }
    }
  });

  it('lists every code of the error catalogue in the Error schema', () => {
    const error = document.components.schemas.Error?.properties?.error as {
      properties: { code: { enum: string[] } };
      required: string[];
    };
    expect(error.properties.code.enum).toEqual(Object.keys(errorCatalogue));
    expect(error.required).toEqual(expect.arrayContaining(['code', 'message', 'requestId']));
  });

  it('documents API Gateway’s 401 as {"message":"Unauthorized"}', () => {
    const text = JSON.stringify(document);
    expect(text).toContain('"example":{"message":"Unauthorized"}');
    expect(document.components.schemas.GatewayMessage?.properties?.message).toEqual({
      type: 'string',
    });
  });

  it('states the amount maximum and the currencies the running intake is configured with', () => {
    const environment = wiring.functions.orderIntake.environment;
    const request = document.components.schemas.CreateOrderRequest?.properties ?? {};
    expect(request.amount?.maximum).toBe(Number(environment.MAX_ORDER_AMOUNT));
    expect(request.currency?.enum).toEqual(environment.SUPPORTED_CURRENCIES.split(','));
  });

  it('names the Idempotency-Key, Idempotent-Replayed and Stripe-Signature headers', () => {
    const text = JSON.stringify(document);
    for (const header of ['Idempotency-Key', 'Idempotent-Replayed', 'Stripe-Signature']) {
      expect(text).toContain(`"${header}"`);
    }
    const placeOrder = document.paths['/v1/orders']?.post;
    expect(placeOrder?.parameters).toContainEqual({
      $ref: '#/components/parameters/IdempotencyKey',
    });
    expect(document.components.parameters.IdempotencyKey).toMatchObject({
      name: 'Idempotency-Key',
      in: 'header',
      required: true,
    });
    expect(placeOrder?.responses['200']).toMatchObject({
      headers: { 'Idempotent-Replayed': { $ref: '#/components/headers/IdempotentReplayed' } },
    });
    expect(document.paths['/v1/callbacks/{gateway}']?.post?.parameters).toContainEqual({
      $ref: '#/components/parameters/StripeSignature',
    });
  });

  it('says the callback path is served at a function URL in AWS, and what Lambda answers there', () => {
    // Act
    const item = document.paths['/v1/callbacks/{gateway}'] as unknown as {
      servers?: { url: string }[];
      post: Operation;
    };

    // Assess
    expect(item.servers?.map((server) => server.url)).toEqual([
      document.servers?.[0]?.url,
      'https://{urlId}.lambda-url.{region}.on.aws',
    ]);
    expect(JSON.stringify(item.post.responses['404'])).toContain('ROUTE_NOT_FOUND');
    expect(JSON.stringify(item.post.responses['429'])).toContain('reserved concurrency');
    expect(JSON.stringify(item.post.responses['429'])).not.toContain('GatewayMessage');
  });

  it('takes the callback body from the schema the callback handler parses with', () => {
    const event = document.components.schemas.GatewayEvent?.properties ?? {};
    expect(event.type?.enum).toEqual([...gatewayEventTypes]);
    const post = document.paths['/v1/callbacks/{gateway}']?.post;
    expect(Object.keys(post?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '400', '404', '413']),
    );
  });

  it('has request examples the handlers’ own schemas accept', () => {
    const schemas: Record<string, z.core.$ZodType> = {
      'POST /v1/orders': createOrderSchema(intakePolicyFromWiring()),
      'POST /v1/orders/{id}/refund': refundRequestSchema,
      'POST /v1/callbacks/{gateway}': gatewayEventSchema,
    };
    for (const [key, schema] of Object.entries(schemas)) {
      const [method = '', path = ''] = key.split(' ');
      const body = document.paths[path]?.[method.toLowerCase()]?.requestBody;
      const example = body?.content['application/json']?.example;
      expect(z.safeParse(schema, example).success, `${key} example`).toBe(true);
    }
  });

  it('describes the order view with exactly the fields orderView returns', () => {
    const every = orderView(
      openOrder({
        orderId: `ord_${'a'.repeat(32)}`,
        agentId: 'demo-agent',
        idempotencyKey: 'key-1',
        requestHash: 'f'.repeat(64),
        action: 'order_coffee',
        sessionId: 'sess-1',
        items: [{ sku: 'latte', size: 'grande', quantity: 1 }],
        amount: 450,
        currency: 'CNY',
        paymentMethod: 'wallet',
        status: 'AWAITING_CONFIRMATION',
        confirmationReason: 'OVER_ORDER_LIMIT',
        confirmBy: '2026-11-23T09:35:00.000Z',
        attempts: 2,
        lastError: 'GATEWAY_TIMEOUT',
        deadLettered: true,
        gatewayRef: 'pay_1',
        declineCode: 'insufficient_funds',
        holdReason: 'RISK_REVIEW',
        risk: { level: 'review', bypassed: false, requestId: 'risk-1' },
        settleBy: '2026-11-23T10:30:00.000Z',
        refundKey: 'internal, not shown',
        createdAt: '2026-11-23T09:30:00.000Z',
      }),
    );
    expect(z.strictObject(orderViewSchema.shape).safeParse(every).error).toBeUndefined();
    expect(Object.keys(document.components.schemas.Order?.properties ?? {}).sort()).toEqual(
      Object.keys(orderViewSchema.shape).sort(),
    );
  });
});

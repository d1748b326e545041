import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { orderErrorCatalogue, REFUND_AFTER_KEY_WINDOW } from '../../lambdas/domain/errors.ts';

const root = path.resolve(import.meta.dirname, '../..');
const domain = path.join(root, 'lambdas/domain');

describe("the catalogue of an order's lastError codes", () => {
  it('has every code the domain writes to lastError', () => {
    // Prepare
    const sources = readdirSync(domain)
      .filter((file) => file.endsWith('.ts'))
      .map((file) => readFileSync(path.join(domain, file), 'utf8'));

    // Act
    const written = sources.flatMap((source) =>
      [...source.matchAll(/lastError: '([A-Z_]+)'/g)].map(([, code]) => code),
    );

    // Assess
    expect(written.length).toBeGreaterThan(0);
    for (const code of written) {
      expect(Object.keys(orderErrorCatalogue), code).toContain(code);
    }
  });

  it('says a refund waiting out the key window is sent again after it, about a day later', () => {
    expect(orderErrorCatalogue[REFUND_AFTER_KEY_WINDOW]).toMatch(
      /sends it again once the gateway's key window has passed, about a day later/,
    );
  });

  it('is what the OpenAPI description of lastError lists, code by code', () => {
    // Prepare
    const openapi = JSON.parse(readFileSync(path.join(root, 'docs/openapi.json'), 'utf8'));

    // Act
    const described: string = openapi.components.schemas.Order.properties.lastError.description;

    // Assess
    for (const [code, meaning] of Object.entries(orderErrorCatalogue)) {
      expect(described).toContain(`- ${code}: ${meaning}`);
    }
  });
});

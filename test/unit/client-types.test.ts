import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { apiTypesFile, generateApiTypes } from '../../client/generate-types.ts';

describe('the typed client', () => {
  it('has its types generated from the committed docs/openapi.json (npm run client:types)', async () => {
    const committed = readFileSync(apiTypesFile, 'utf8');

    expect(committed === (await generateApiTypes()), 'run `npm run client:types`').toBe(true);
  });
});

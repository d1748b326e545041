/**
 * `npm run client:types`: writes client/api-types.ts from docs/openapi.json with
 * openapi-typescript. test/unit/client-types.test.ts fails when the committed file differs from
 * what this builds, so the client cannot drift from the document (regenerate after
 * `npm run openapi`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import openapiTS, { type OpenAPI3 } from 'openapi-typescript';

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const openApiFile = join(projectRoot, 'docs', 'openapi.json');
export const apiTypesFile = join(projectRoot, 'client', 'api-types.ts');

export function generateApiTypes(): Promise<string> {
  const document = JSON.parse(readFileSync(openApiFile, 'utf8')) as OpenAPI3;
  return openapiTS(document);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  writeFileSync(apiTypesFile, await generateApiTypes());
  console.log(`wrote ${apiTypesFile}`);
}

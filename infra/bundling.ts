import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * How the functions are bundled, shared by the CDK stack and the benchmarks that measure the
 * bundles as CDK builds them. Plain data: no CDK import.
 */

const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/**
 * The Powertools release the functions are built against: every `@aws-lambda-powertools/*`
 * package is pinned to it in package.json, and its Lambda layer provides them at run time.
 */
export const powertoolsVersion: string = (
  JSON.parse(
    readFileSync(
      path.join(projectRoot, 'node_modules/@aws-lambda-powertools/logger/package.json'),
      'utf8',
    ),
  ) as { version: string }
).version;

/** The public parameter in which AWS publishes the layer ARN of a Powertools release. */
export const powertoolsLayerParameter = `/aws/service/powertools/typescript/generic/all/${powertoolsVersion}`;

/**
 * What the runtime or a layer provides, so the bundles leave it out: the AWS SDK (with
 * cdk.json's `sdkV3ExcludeSmithyPackages`, its Smithy packages too) comes with nodejs24.x, and
 * Powertools with its layer, tracer's X-Ray SDK included.
 */
export const providedModules = ['@aws-sdk/*', '@smithy/*', '@aws-lambda-powertools/*'];

/**
 * Left out of every bundle and loaded on first use (`await import`): the Stripe SDK (about 240 KB
 * minified), which only a stage paying through Stripe loads, and ships beside its functions.
 */
export const lazyModules = ['stripe'];

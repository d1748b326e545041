import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wiring } from '../../lambdas/shared/wiring.ts';
import {
  prodContext,
  propertiesOf,
  removeAssembly,
  resourceOf,
  type Synthesized,
  synthesize,
  withoutBundling,
} from './synth.ts';

describe('StatefulStack', () => {
  let dev: Synthesized;
  let prod: Synthesized;

  beforeAll(() => {
    dev = synthesize(withoutBundling);
    prod = synthesize({ ...withoutBundling, ...prodContext });
  }, 120_000);

  afterAll(() => {
    removeAssembly(dev.outdir);
    removeAssembly(prod.outdir);
  });

  it('names the stacks after the stage', () => {
    // Assess
    expect([dev.stateful.stackName, dev.service.stackName]).toEqual([
      'Autopay-dev-Stateful',
      'Autopay-dev-Service',
    ]);
    expect([prod.stateful.stackName, prod.service.stackName]).toEqual([
      'Autopay-prod-Stateful',
      'Autopay-prod-Service',
    ]);
  });

  it('creates the risk engine secret as a placeholder key pair in the shape the adapter reads', () => {
    // Act
    const secret = propertiesOf(
      dev.statefulTemplate,
      dev.stateful.secrets.get('riskEngineCredentials') as IConstruct,
    );

    // Assess
    expect(secret.GenerateSecretString).toMatchObject({
      SecretStringTemplate: JSON.stringify({ SecretId: 'replace-with-a-cam-secret-id' }),
      GenerateStringKey: 'SecretKey',
    });
    expect(secret.SecretString).toBeUndefined();
  });

  it('keys the table on the wiring partition key, as a string, billed on demand', () => {
    // Act
    const table = propertiesOf(dev.statefulTemplate, dev.stateful.table);

    // Assess
    expect(table.KeySchema).toEqual([
      { AttributeName: wiring.table.partitionKey, KeyType: 'HASH' },
    ]);
    expect(table.AttributeDefinitions).toEqual([
      { AttributeName: wiring.table.partitionKey, AttributeType: 'S' },
      { AttributeName: 'dueShard', AttributeType: 'S' },
      { AttributeName: 'dueAt', AttributeType: 'S' },
      { AttributeName: 'gsiOwner', AttributeType: 'S' },
      { AttributeName: 'createdAt', AttributeType: 'S' },
    ]);
    expect(table.BillingMode).toBe('PAY_PER_REQUEST');
  });

  it('has the sparse due index the sweep queries, and the one keys-only listing index', () => {
    const table = propertiesOf(dev.statefulTemplate, dev.stateful.table);
    expect(table.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: 'due',
        KeySchema: [
          { AttributeName: 'dueShard', KeyType: 'HASH' },
          { AttributeName: 'dueAt', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
      {
        IndexName: 'byOwner',
        KeySchema: [
          { AttributeName: 'gsiOwner', KeyType: 'HASH' },
          { AttributeName: 'createdAt', KeyType: 'RANGE' },
        ],
        // Keys only: an order's later updates change no key, so they never write the index.
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ]);
  });

  it('expires items through TTL on expiresAt', () => {
    // Act
    const table = propertiesOf(dev.statefulTemplate, dev.stateful.table);

    // Assess
    expect(table.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
  });

  it('keeps point-in-time recovery on', () => {
    // Act
    const table = propertiesOf(dev.statefulTemplate, dev.stateful.table);

    // Assess
    expect(table.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
  });

  it('retains the table when it is removed from the stack or replaced', () => {
    // Act
    const resource = resourceOf(dev.statefulTemplate, dev.stateful.table);

    // Assess
    expect(resource.DeletionPolicy).toBe('Retain');
    expect(resource.UpdateReplacePolicy).toBe('Retain');
  });

  it('turns deletion protection on in prod only', () => {
    // Act
    const prodTable = propertiesOf(prod.statefulTemplate, prod.stateful.table);
    const devTable = propertiesOf(dev.statefulTemplate, dev.stateful.table);

    // Assess
    expect(prodTable.DeletionProtectionEnabled).toBe(true);
    expect(devTable.DeletionProtectionEnabled).toBe(false);
  });
});

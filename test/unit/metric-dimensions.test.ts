import { afterEach, describe, expect, it, vi } from 'vitest';
import { stageVariable } from '../../lambdas/shared/function-environment.ts';
import {
  metricNames,
  metricNamespace,
  serviceDimension,
  stageDimension,
} from '../../lambdas/shared/metric-names.ts';

/** The functions' metrics sink as a cold start with this environment makes it. */
async function metricsWith(environment: Record<string, string>) {
  vi.resetModules();
  for (const [variable, value] of Object.entries(environment)) vi.stubEnv(variable, value);
  return (await import('../../lambdas/shared/observability.ts')).metrics;
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('the dimensions of every metric a function publishes', () => {
  it('are the service and the stage the function runs in', async () => {
    // Prepare
    const metrics = await metricsWith({
      POWERTOOLS_SERVICE_NAME: 'autopay',
      POWERTOOLS_METRICS_NAMESPACE: metricNamespace,
      [stageVariable]: 'prod',
    });

    // Act
    metrics.addMetric(metricNames.orderPlaced, 'Count', 1);
    const emf = metrics.serializeMetrics();

    // Assess
    expect(emf._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([[serviceDimension, stageDimension]]);
    expect(emf).toMatchObject({ [serviceDimension]: 'autopay', [stageDimension]: 'prod' });
  });
});

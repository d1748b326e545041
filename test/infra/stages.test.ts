import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import cdkJson from '../../cdk.json' with { type: 'json' };
import { stageSettingsFromContext, withGateway } from '../../infra/stages.ts';
import { functionSpecs, wiring } from '../../lambdas/shared/wiring.ts';
import {
  appWithProjectContext,
  prodContext,
  propertiesOf,
  removeAssembly,
  type Synthesized,
  synthesize,
  withoutBundling,
} from './synth.ts';

/** The settings `cdk synth` would read, with `-c key=value` overrides (which arrive as strings). */
function settingsWith(overrides: Readonly<Record<string, unknown>> = {}) {
  return stageSettingsFromContext(appWithProjectContext(overrides).node);
}

describe('the gateway a stage pays through', () => {
  it('is the simulator unless the context names stripe, which then needs its payers', () => {
    // Act
    const payers = { default: { customer: 'cus_1', paymentMethod: 'pm_1' } };
    const stripe = settingsWith({ gatewayName: 'stripe', stripePayers: JSON.stringify(payers) });

    // Assess
    expect(settingsWith().gateway).toEqual({ name: 'simulator' });
    expect(stripe.gateway).toEqual({ name: 'stripe', stripePayers: JSON.stringify(payers) });
    expect(() => settingsWith({ gatewayName: 'stripe' })).toThrow(/stripePayers/);
    expect(() => settingsWith({ gatewayName: 'paypal' })).toThrow(/simulator or stripe/);
  });

  it('names stripe to every function that calls or hears the gateway, and rotates nothing on a schedule', () => {
    // Act
    const stripe = withGateway(wiring, { name: 'stripe', stripePayers: '{}' });

    // Assess
    const gatewayNames = Object.values(stripe.functions)
      .map((spec) => spec.environment.GATEWAY_NAME)
      .filter((name) => name !== undefined);
    expect(new Set(gatewayNames)).toEqual(new Set(['stripe']));
    expect(stripe.functions.paymentSubmission?.environment.STRIPE_PAYERS).toBe('{}');
    expect(stripe.functions.settlementCallback?.environment).not.toHaveProperty('STRIPE_PAYERS');
    expect(Object.values(stripe.functions).flatMap((spec) => spec.rotates ?? [])).toEqual([]);
    expect(Object.values(functionSpecs).flatMap((spec) => spec.rotates ?? [])).not.toEqual([]);
  });
});

describe('a Stripe stage, synthesized', () => {
  let synthesized: Synthesized;
  let simulator: Synthesized;

  beforeAll(() => {
    simulator = synthesize({ ...withoutBundling, rotation: 'on' });
    synthesized = synthesize({
      ...withoutBundling,
      gatewayName: 'stripe',
      rotation: 'on',
      stripePayers: '{"default":{"customer":"cus_1","paymentMethod":"pm_1"}}',
    });
  });

  afterAll(() => {
    removeAssembly(synthesized.outdir);
    removeAssembly(simulator.outdir);
  });

  it('tells the functions it is Stripe, with the payers, and schedules no rotation', () => {
    // Act
    const functions = Object.values(
      synthesized.serviceTemplate.findResources('AWS::Lambda::Function'),
    ).map(
      (resource) =>
        (resource as { Properties?: { Environment?: { Variables?: Record<string, unknown> } } })
          .Properties?.Environment,
    );
    const variables = functions.map((environment) => environment?.Variables ?? {});

    // Assess
    const named = variables.filter((each) => each.GATEWAY_NAME !== undefined);
    expect(named.length).toBeGreaterThan(0);
    expect(new Set(named.map((each) => each.GATEWAY_NAME))).toEqual(new Set(['stripe']));
    expect(variables.filter((each) => each.STRIPE_PAYERS !== undefined)).toHaveLength(2);
    const schedules = (stage: Synthesized) =>
      Object.keys(stage.serviceTemplate.findResources('AWS::SecretsManager::RotationSchedule'))
        .length;
    expect(schedules(simulator)).toBe(2);
    expect(schedules(synthesized)).toBe(0);
  });
});

describe('stage settings from the CDK context', () => {
  it('takes log retention and API throttling from cdk.json, and subscribes nobody by default', () => {
    // Act
    const settings = settingsWith();

    // Assess
    expect(settings.logRetention).toBe(cdkJson.context.logRetentionDays);
    expect(settings.apiThrottle).toEqual({
      rateLimit: cdkJson.context.apiRateLimit,
      burstLimit: cdkJson.context.apiBurstLimit,
    });
    expect(settings).not.toHaveProperty('alarmEmail');
    expect([cdkJson.context.logRetentionDays, cdkJson.context.apiRateLimit]).toEqual([30, 50]);
    expect(cdkJson.context.apiBurstLimit).toBe(100);
  });

  it('reads numbers given on the command line, where they arrive as strings', () => {
    // Act
    const settings = settingsWith({
      logRetentionDays: '180',
      apiRateLimit: '20',
      apiBurstLimit: '40',
      alarmEmail: 'oncall@example.com',
    });

    // Assess
    expect(settings.logRetention).toBe(180);
    expect(settings.apiThrottle).toEqual({ rateLimit: 20, burstLimit: 40 });
    expect(settings.alarmEmail).toBe('oncall@example.com');
  });

  it('refuses a retention CloudWatch Logs does not offer', () => {
    expect(() => settingsWith({ logRetentionDays: 45 })).toThrow(/logRetentionDays/);
  });

  it('refuses a throttle that is not a positive number', () => {
    expect(() => settingsWith({ apiRateLimit: 'fast' })).toThrow(/apiRateLimit/);
    expect(() => settingsWith({ apiBurstLimit: 0 })).toThrow(/apiBurstLimit/);
    expect(() => settingsWith({ apiRateLimit: '' })).toThrow(/apiRateLimit/);
  });

  it('reserves the wiring’s concurrency for the callbacks unless the context names a whole number', () => {
    // Act
    const chosen = settingsWith({ callbackConcurrency: '25' });

    // Assess
    expect(settingsWith()).not.toHaveProperty('callbackConcurrency');
    expect(chosen.callbackConcurrency).toBe(25);
    for (const wrong of ['0', '2.5', 'many', '', -1]) {
      expect(() => settingsWith({ callbackConcurrency: wrong }), String(wrong)).toThrow(
        /callbackConcurrency/,
      );
    }
  });

  it('refuses an alarm email that is not an address', () => {
    expect(() => settingsWith({ alarmEmail: 'oncall' })).toThrow(/alarmEmail/);
  });

  it('synthesizes dev offline with the example.com placeholders of cdk.json', () => {
    // Act
    const settings = settingsWith();

    // Assess: no other provider named, so the stack's Cognito user pool issues the tokens.
    expect(settings.stage).toBe('dev');
    expect(settings.jwtIssuer).toBeUndefined();
    expect(settings.userIdClaim).toBe('sub');
    expect(new URL(settings.endpoints.paymentGateway).hostname).toMatch(/example\.com$/);
  });

  it('refuses an issuer without an audience, and the other way round', () => {
    expect(() => settingsWith({ jwtIssuer: prodContext.jwtIssuer })).toThrow(/go together/);
    expect(() => settingsWith({ jwtAudience: 'autopay' })).toThrow(/go together/);
  });

  it('reads the claim that carries the user id, and refuses one that is not a name', () => {
    expect(settingsWith({ jwtUserIdClaim: 'uid' }).userIdClaim).toBe('uid');
    expect(() => settingsWith({ jwtUserIdClaim: 'a b' })).toThrow(/jwtUserIdClaim/);
  });

  it('refuses another stage while any URL is still an example.com placeholder, naming each', () => {
    // Act
    const refusal = () =>
      settingsWith({ stage: 'prod', jwtIssuer: 'https://auth.example.com/', jwtAudience: 'x' });

    // Assess
    expect(refusal).toThrow(
      "Stage 'prod' still has example.com placeholders in its context: jwtIssuer, " +
        'paymentGatewayUrl. Set the real URLs in cdk.json or with -c key=value ' +
        '(e.g. -c jwtIssuer=https://...).',
    );
  });

  it('names only the URLs still at their placeholder', () => {
    // Act
    const refusal = () =>
      settingsWith({
        stage: 'staging',
        jwtIssuer: prodContext.jwtIssuer,
        jwtAudience: prodContext.jwtAudience,
        riskEngineUrl: prodContext.riskEngineUrl,
      });

    // Assess
    expect(refusal).toThrow(/placeholders in its context: paymentGatewayUrl\. /);
  });

  it('accepts another stage once every URL is real', () => {
    // Act
    const settings = settingsWith(prodContext);

    // Assess
    expect(settings.stage).toBe('prod');
    expect(settings.endpoints).toEqual({
      paymentGateway: prodContext.paymentGatewayUrl,
      riskEngine: prodContext.riskEngineUrl,
    });
  });
});

describe('a prod synth with its own retention, throttling and callback concurrency', () => {
  let prod: Synthesized;

  beforeAll(() => {
    prod = synthesize({
      ...withoutBundling,
      ...prodContext,
      logRetentionDays: '180',
      apiRateLimit: '200',
      apiBurstLimit: '400',
      callbackConcurrency: '3',
    });
  }, 120_000);

  afterAll(() => removeAssembly(prod.outdir));

  it('keeps every log group for the retention of the context', () => {
    // Act
    const logGroups = prod.serviceTemplate.findResources('AWS::Logs::LogGroup');

    // Assess
    expect(Object.keys(logGroups).length).toBeGreaterThan(0);
    for (const [id, logGroup] of Object.entries(logGroups)) {
      expect(logGroup.Properties.RetentionInDays, id).toBe(180);
    }
  });

  it('throttles the API to the rate and burst of the context', () => {
    // Act
    const stage = propertiesOf(prod.serviceTemplate, prod.service.httpApi.stage);

    // Assess
    expect(stage.DefaultRouteSettings).toEqual({
      ThrottlingRateLimit: 200,
      ThrottlingBurstLimit: 400,
    });
  });

  it('reserves the context’s concurrency for the callback function, and changes no other', () => {
    // Act
    const reserved = Object.fromEntries(
      [...prod.service.functions.all].map(([name, fn]) => [
        name,
        propertiesOf(prod.serviceTemplate, fn).ReservedConcurrentExecutions,
      ]),
    );

    // Assess
    expect(reserved.settlementCallback).toBe(3);
    expect(reserved.orderIntake).toBe(wiring.functions.orderIntake.reservedConcurrency);
  });

  it('keeps dead letters for 14 days in prod too', () => {
    for (const [name, { deadLetterQueue }] of prod.service.queues.all) {
      expect(propertiesOf(prod.serviceTemplate, deadLetterQueue).MessageRetentionPeriod, name).toBe(
        14 * 24 * 60 * 60,
      );
    }
  });
});

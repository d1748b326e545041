import { describe, expect, it } from 'vitest';
import { checkFaultPatch, parseScript } from '../../local/simulators/faults.ts';
import {
  gatewayFaultPatchSchema,
  scriptedGatewayFaultSchema,
} from '../../local/simulators/gateway/fault-settings.ts';
import type { RiskRules } from '../../local/simulators/risk/rules.ts';
import { startRiskSimulator } from '../../local/simulators/risk/server.ts';

const gatewayPatch = (patch: unknown) => () => checkFaultPatch(gatewayFaultPatchSchema, patch);
const gatewayScript = (script: unknown) => () => parseScript(script, scriptedGatewayFaultSchema);

describe('fault settings of the simulators', () => {
  it('accept a partial update, nested groups in part too', () => {
    // Act
    const patch = checkFaultPatch(gatewayFaultPatchSchema, {
      errorRate: 0.2,
      latencyMs: { max: 5 },
      callbacks: { delayMs: 5 },
    });

    // Assess
    expect(patch).toEqual({ errorRate: 0.2, latencyMs: { max: 5 }, callbacks: { delayMs: 5 } });
  });

  it('name a misspelt setting', () => {
    expect(gatewayPatch({ hangrate: 1 })).toThrow('faults.hangrate is not a setting.');
    expect(gatewayPatch({ callbacks: { lost: 1 } })).toThrow(
      'faults.callbacks.lost is not a setting.',
    );
  });

  it('refuse a rate given as a percentage, and a negative duration', () => {
    expect(gatewayPatch({ errorRate: 50 })).toThrow(
      'faults.errorRate is a probability: between 0 and 1.',
    );
    expect(gatewayPatch({ callbacks: { delayMs: -1 } })).toThrow(
      'faults.callbacks.delayMs must be a number of at least 0.',
    );
  });

  it('refuse a setting of the wrong kind, saying what it must be', () => {
    expect(gatewayPatch('fast')).toThrow('faults must be a JSON object.');
    expect(gatewayPatch({ autoSettle: 'yes' })).toThrow('faults.autoSettle must be true or false.');
    expect(gatewayPatch({ errorStatuses: [] })).toThrow(
      'faults.errorStatuses must be a non-empty list like [500,502,503].',
    );
  });

  it('check each scripted fault, naming its place in the list', () => {
    expect(gatewayScript({ fault: 'hang' })).toThrow('Scripted faults must be a JSON list.');
    expect(gatewayScript([{ fault: 'none' }, { fault: 'stray_refund', first: 'yes' }])).toThrow(
      'fault 1.first must be true or false.',
    );
    expect(gatewayScript([{ fault: 'error', status: 200 }])).toThrow(
      'fault 0.status must be an integer from 400 to 599.',
    );
    expect(gatewayScript([{ fault: 'explode' }])).toThrow(/^fault 0\.fault must be one of none, /);
    expect(gatewayScript([{}])).toThrow(/^fault 0\.fault is required: one of none, /);
  });

  it('refuse a bad risk simulator setting before it starts', async () => {
    await expect(startRiskSimulator({ faults: { hangRate: 5 } })).rejects.toThrow(
      'faults.hangRate is a probability: between 0 and 1.',
    );
  });

  it('refuse risk rules that are not amounts in minor units or levels, naming the rule', async () => {
    const rules = (value: unknown) => startRiskSimulator({ rules: value as RiskRules });
    await expect(rules({ reviewAtOrAbove: 10.5 })).rejects.toThrow(
      'rules.reviewAtOrAbove must be an amount in minor units: an integer of at least 0.',
    );
    await expect(rules({ rejectAtOrAbove: -1 })).rejects.toThrow(
      'rules.rejectAtOrAbove must be an amount in minor units: an integer of at least 0.',
    );
    await expect(rules({ byAgent: { 'agent-x': 'block' } })).rejects.toThrow(
      'rules.byAgent.agent-x must be one of pass, review, reject.',
    );
    await expect(rules({ byAgent: ['agent-x'] })).rejects.toThrow(
      'rules.byAgent must map agent ids to levels.',
    );
    await expect(rules({ rejectAbove: 5 })).rejects.toThrow('rules.rejectAbove is not a setting.');
    await expect(rules('strict')).rejects.toThrow('rules must be a JSON object.');
  });
});

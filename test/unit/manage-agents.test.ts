import { beforeEach, describe, expect, it } from 'vitest';
import { makeManageAgents } from '#domain/manage-agents.ts';
import { FixedClock, InMemoryAgentStore, RecordingIdentities } from '../fakes/in-memory.ts';
import { intakePolicy } from '../fixtures/orders.ts';

const settings = {
  name: 'Coffee runner',
  trustedActions: ['order_coffee', 'submit_payment'],
  perOrderLimit: 5000,
  dailyLimit: 20000,
  limitCurrency: 'CNY',
};

describe("a user's management of their agents", () => {
  let store: InMemoryAgentStore;
  let identities: RecordingIdentities;
  let clock: FixedClock;
  let agents: ReturnType<typeof makeManageAgents>;

  beforeEach(() => {
    store = new InMemoryAgentStore();
    identities = new RecordingIdentities();
    clock = new FixedClock(new Date('2026-11-23T09:30:00Z'));
    agents = makeManageAgents({ agents: store, identities, clock, policy: intakePolicy });
  });

  describe('create', () => {
    it('creates an agent owned by the user, with its credentials and a first history entry', async () => {
      // Act
      const created = await agents.create('demo-user', 'key-1', settings);

      // Assess
      expect(created.replayed).toBe(false);
      expect(created.identity?.credentials).toEqual({
        clientId: 'agt_1',
        clientSecret: 'secret-agt_1',
      });
      expect(created.agent).toMatchObject({
        agentId: 'agt_1',
        ownerId: 'demo-user',
        suspended: false,
        version: 1,
        history: [{ by: 'demo-user', action: 'CREATE', at: '2026-11-23T09:30:00.000Z' }],
      });
      expect(await store.get('agt_1')).toMatchObject({ ownerId: 'demo-user', suspended: false });
    });

    it('replays the same key and body without registering another client', async () => {
      await agents.create('demo-user', 'key-1', settings);
      const again = await agents.create('demo-user', 'key-1', settings);
      expect(again.replayed).toBe(true);
      expect(again.agent.agentId).toBe('agt_1');
      expect(again.identity).toBeUndefined();
      expect(store.agents.size).toBe(1);
    });

    it('refuses the same key with another body (422), and lets another user use the key', async () => {
      await agents.create('demo-user', 'key-1', settings);
      await expect(
        agents.create('demo-user', 'key-1', { ...settings, name: 'Other' }),
      ).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', status: 422 });
      const theirs = await agents.create('other-user', 'key-1', settings);
      expect(theirs.agent.ownerId).toBe('other-user');
    });

    it('removes the client it registered when a racing creation won, and answers the winner', async () => {
      // Prepare: a racing request with the same key stored its agent after this one looked.
      await agents.create('demo-user', 'key-1', settings);
      store.findCreation = async () => undefined;

      // Act
      const outcome = await agents.create('demo-user', 'key-1', settings);

      // Assess
      expect(outcome).toMatchObject({ replayed: true, agent: { agentId: 'agt_1' } });
      expect(identities.removed).toEqual(['agt_2']);
      expect(store.agents.size).toBe(1);
    });

    it.each([
      ['a missing key', undefined, settings, 'IDEMPOTENCY_KEY_REQUIRED'],
      ['a negative limit', 'k', { ...settings, perOrderLimit: -1 }, 'INVALID_AMOUNT'],
      [
        'a currency not supported',
        'k',
        { ...settings, limitCurrency: 'XYZ' },
        'UNSUPPORTED_CURRENCY',
      ],
      ['an unknown field', 'k', { ...settings, owner: 'me' }, 'VALIDATION_FAILED'],
      [
        'an action that is not a name',
        'k',
        { ...settings, trustedActions: ['Pay!'] },
        'VALIDATION_FAILED',
      ],
    ])('refuses %s with its code, and stores nothing', async (_case, key, body, code) => {
      await expect(agents.create('demo-user', key, body)).rejects.toMatchObject({ code });
      expect(store.writes).toBe(0);
    });
  });

  describe('changes', () => {
    it('applies a patch to the settings, the rate as ratePerSecond and rateBurst, with who and when', async () => {
      // Prepare
      await agents.create('demo-user', 'key-1', settings);
      clock.advance(60);

      // Act
      const patched = await agents.patch('demo-user', 'agt_1', {
        dailyLimit: 1000,
        rateLimit: { perSecond: 0.5, burst: 3 },
      });

      // Assess
      expect(patched).toMatchObject({
        dailyLimit: 1000,
        ratePerSecond: 0.5,
        rateBurst: 3,
        version: 2,
      });
      expect(patched.history.at(-1)).toEqual({
        at: '2026-11-23T09:31:00.000Z',
        by: 'demo-user',
        action: 'UPDATE',
        changes: { dailyLimit: 1000, ratePerSecond: 0.5, rateBurst: 3 },
      });
    });

    it('refuses an empty patch and answers another user 404, changing nothing', async () => {
      await agents.create('demo-user', 'key-1', settings);
      await expect(agents.patch('demo-user', 'agt_1', {})).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
      });
      for (const attempt of [
        agents.patch('other-user', 'agt_1', { dailyLimit: 1 }),
        agents.suspend('other-user', 'agt_1'),
        agents.get('other-user', 'agt_1'),
      ]) {
        await expect(attempt).rejects.toMatchObject({ code: 'AGENT_NOT_FOUND', status: 404 });
      }
      expect((await store.getManaged('agt_1'))?.version).toBe(1);
    });

    it('suspends and resumes, each once: repeating one changes nothing', async () => {
      await agents.create('demo-user', 'key-1', settings);
      const suspended = await agents.suspend('demo-user', 'agt_1');
      const again = await agents.suspend('demo-user', 'agt_1');
      const resumed = await agents.resume('demo-user', 'agt_1');
      expect([suspended.suspended, again.version, resumed.suspended]).toEqual([true, 2, false]);
      expect(resumed.history.map((change) => change.action)).toEqual([
        'CREATE',
        'SUSPEND',
        'RESUME',
      ]);
    });

    it('answers 409 when the agent changed between its read and the write', async () => {
      await agents.create('demo-user', 'key-1', settings);
      const update = store.update.bind(store);
      store.update = async (...args) => {
        await update('agt_1', 1, { dailyLimit: 7 }, { ...args[3] }, args[4]);
        return update(...args);
      };
      await expect(agents.suspend('demo-user', 'agt_1')).rejects.toMatchObject({
        code: 'ILLEGAL_TRANSITION',
        status: 409,
      });
    });
  });
});

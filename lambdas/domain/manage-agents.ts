import * as z from 'zod/mini';
import type { AgentProfile } from './agent.ts';
import { MAX_RATE_BURST, MAX_RATE_PER_SECOND } from './agent-guards.ts';
import { AutopayError, IdempotencyKeyReusedError, ValidationError } from './errors.ts';
import { requestHashOf } from './order.ts';
import type { AgentDirectory, Clock } from './ports.ts';
import { type IntakePolicy, idempotencyKeySchema, parseWith, text } from './schemas.ts';

/** How many changes an agent's history keeps (the oldest go first); the item stays small. */
export const AGENT_HISTORY_LIMIT = 50;

/** One change to an agent: who made it, when, and the fields it set. */
export interface AgentChange {
  readonly at: string;
  /** The user who made it. */
  readonly by: string;
  readonly action: 'CREATE' | 'UPDATE' | 'SUSPEND' | 'RESUME';
  readonly changes: Readonly<Record<string, unknown>>;
}

/** An agent as its user manages it: the profile intake reads, and its own bookkeeping. */
export interface ManagedAgent extends AgentProfile {
  readonly name: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Goes up by one with every change; a change applies only to the version it read. */
  readonly version: number;
  readonly history: readonly AgentChange[];
}

/** What the identity provider gave a new agent: its id and, once, its client credentials. */
export interface AgentIdentity {
  readonly agentId: string;
  readonly credentials?: { readonly clientId: string; readonly clientSecret: string };
}

/** The identity provider's side of an agent: an OAuth client-credentials client per agent. */
export interface AgentIdentities {
  /** A new client for the agent; `requestId` is the same for every retry of one creation. */
  register(request: { readonly requestId: string }): Promise<AgentIdentity>;
  /** Removes a client that lost a creation race, so no unused credentials are left behind. */
  remove(agentId: string): Promise<void>;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** Opaque; absent on the last page. */
  readonly cursor?: string | undefined;
}

/** An agent creation remembered by (user, Idempotency-Key). */
export interface AgentCreationRecord {
  readonly agentId: string;
  readonly requestHash: string;
}

export type CreateAgentOutcome =
  | { readonly kind: 'created' }
  | { readonly kind: 'exists'; readonly existing: AgentCreationRecord };

export interface AgentStore extends AgentDirectory {
  /** The agent and its creation record, both only if neither exists, in one transaction. */
  create(
    agent: ManagedAgent,
    creation: { readonly requestId: string; readonly requestHash: string },
  ): Promise<CreateAgentOutcome>;
  findCreation(requestId: string): Promise<AgentCreationRecord | undefined>;
  getManaged(agentId: string): Promise<ManagedAgent | undefined>;
  listByOwner(ownerId: string, limit: number, cursor?: string): Promise<Page<ManagedAgent>>;
  /** Applies the change only if the agent is still at `version`; undefined when it moved on. */
  update(
    agentId: string,
    version: number,
    fields: Partial<AgentSettings> & { readonly suspended?: boolean },
    change: AgentChange,
    at: string,
  ): Promise<ManagedAgent | undefined>;
}

export interface ManageAgentsDeps {
  readonly agents: AgentStore;
  readonly identities: AgentIdentities;
  readonly clock: Clock;
  readonly policy: Pick<IntakePolicy, 'supportedCurrencies' | 'maxOrderAmount'>;
}

const actionSchema = text({ max: 64 }).check(z.regex(/^[a-z][a-z0-9_]*$/));

function settingsShape(policy: ManageAgentsDeps['policy']) {
  const [first, ...rest] = policy.supportedCurrencies;
  if (first === undefined) throw new Error('At least one currency must be supported.');
  const limit = z.number().check(z.int(), z.nonnegative(), z.lte(policy.maxOrderAmount * 1000));
  return {
    name: text({ max: 100 }).check(z.describe('What the user calls the agent')),
    trustedActions: z
      .array(actionSchema)
      .check(
        z.maxLength(20),
        z.describe('Actions the agent may pay for on its own; submit_payment allows paying at all'),
      ),
    perOrderLimit: limit.check(z.describe('Largest order paid without asking, in minor units')),
    dailyLimit: limit.check(z.describe('Most paid without asking per UTC day, in minor units')),
    limitCurrency: z.enum([first, ...rest]).check(z.describe('The currency of both limits')),
    rateLimit: z
      .strictObject({
        perSecond: z.number().check(z.positive(), z.lte(MAX_RATE_PER_SECOND)),
        burst: z.number().check(z.int(), z.gte(1), z.lte(MAX_RATE_BURST)),
      })
      .check(
        z.describe(
          `The agent’s order rate: sustained per second (at most ${MAX_RATE_PER_SECOND}), and burst (at most ${MAX_RATE_BURST})`,
        ),
      ),
  };
}

export function createAgentSchema(policy: ManageAgentsDeps['policy']) {
  const shape = settingsShape(policy);
  return z.strictObject({ ...shape, rateLimit: z.optional(shape.rateLimit) });
}

export function patchAgentSchema(policy: ManageAgentsDeps['policy']) {
  return z
    .partial(z.strictObject(settingsShape(policy)))
    .check(z.refine((patch) => Object.keys(patch).length > 0, { message: 'nothing to change' }));
}

/** The settings a user may set on an agent, as stored. */
export interface AgentSettings {
  readonly name: string;
  readonly trustedActions: readonly string[];
  readonly perOrderLimit: number;
  readonly dailyLimit: number;
  readonly limitCurrency: string;
  readonly ratePerSecond: number;
  readonly rateBurst: number;
}

type SettingsRequest = Partial<z.infer<ReturnType<typeof createAgentSchema>>>;

function storedSettings(request: SettingsRequest): Partial<AgentSettings> {
  const { rateLimit, ...rest } = request;
  return {
    ...rest,
    ...(rateLimit ? { ratePerSecond: rateLimit.perSecond, rateBurst: rateLimit.burst } : {}),
  };
}

/** What the user sees of an agent. */
export function agentView(agent: ManagedAgent) {
  return {
    agentId: agent.agentId,
    name: agent.name,
    ownerId: agent.ownerId,
    suspended: agent.suspended,
    trustedActions: agent.trustedActions,
    perOrderLimit: agent.perOrderLimit,
    dailyLimit: agent.dailyLimit,
    limitCurrency: agent.limitCurrency,
    ...(agent.ratePerSecond !== undefined && agent.rateBurst !== undefined
      ? { rateLimit: { perSecond: agent.ratePerSecond, burst: agent.rateBurst } }
      : {}),
    createdAt: agent.createdAt,
    updatedAt: agent.updatedAt,
    version: agent.version,
    history: agent.history,
  };
}
export type AgentView = ReturnType<typeof agentView>;

/** The id under which one user's creation with one Idempotency-Key is remembered. */
export function agentRequestIdFor(userId: string, idempotencyKey: string): string {
  return requestHashOf({ userId, idempotencyKey }).slice(0, 32);
}

export const MAX_PAGE = 100;

/** `limit` from a query string: 1 to 100, 20 when absent. */
export function pageLimit(raw: string | undefined): number {
  if (raw === undefined) return 20;
  const parsed = z.coerce.number().check(z.int(), z.gte(1), z.lte(MAX_PAGE)).safeParse(raw);
  if (!parsed.success) {
    throw new ValidationError(
      'VALIDATION_FAILED',
      `limit: must be an integer from 1 to ${MAX_PAGE}`,
      {
        field: 'limit',
      },
    );
  }
  return parsed.data;
}

/**
 * The user's management of their agents. Every change is one conditional write on the agent
 * item, recorded in its bounded history, and read by intake on the agent's next order.
 */
export function makeManageAgents(deps: ManageAgentsDeps) {
  const createSchema = createAgentSchema(deps.policy);
  const patchSchema = patchAgentSchema(deps.policy);

  /** An agent of this user, or AGENT_NOT_FOUND (never a hint that another user's exists). */
  async function own(userId: string, agentId: string): Promise<ManagedAgent> {
    const agent = agentId.length <= 128 ? await deps.agents.getManaged(agentId) : undefined;
    if (agent === undefined || agent.ownerId !== userId) {
      throw new AutopayError('AGENT_NOT_FOUND', `No agent ${agentId}.`);
    }
    return agent;
  }

  /**
   * Steps: read the request; replay a creation made before under this key; register the agent's
   * client with the identity provider; store the agent with its creation record; on a lost race,
   * remove the client and replay the winner.
   */
  async function create(
    userId: string,
    idempotencyKey: string | undefined,
    body: unknown,
  ): Promise<{ agent: ManagedAgent; identity?: AgentIdentity; replayed: boolean }> {
    if (idempotencyKey === undefined || !idempotencyKeySchema.safeParse(idempotencyKey).success) {
      throw new ValidationError('IDEMPOTENCY_KEY_REQUIRED');
    }
    const request = parseWith(createSchema, body);
    const requestHash = requestHashOf(request);
    const requestId = agentRequestIdFor(userId, idempotencyKey);
    const earlier = await deps.agents.findCreation(requestId);
    if (earlier !== undefined) {
      return { agent: await replayCreation(earlier, requestHash), replayed: true };
    }
    const identity = await deps.identities.register({ requestId });
    const at = deps.clock.now().toISOString();
    const settings = storedSettings(request);
    const agent: ManagedAgent = {
      agentId: identity.agentId,
      ownerId: userId,
      suspended: false,
      name: request.name,
      trustedActions: request.trustedActions,
      perOrderLimit: request.perOrderLimit,
      dailyLimit: request.dailyLimit,
      limitCurrency: request.limitCurrency,
      ...(settings.ratePerSecond !== undefined
        ? { ratePerSecond: settings.ratePerSecond, rateBurst: settings.rateBurst }
        : {}),
      createdAt: at,
      updatedAt: at,
      version: 1,
      history: [{ at, by: userId, action: 'CREATE', changes: { ...settings } }],
    };
    const outcome = await deps.agents.create(agent, { requestId, requestHash });
    if (outcome.kind === 'exists') {
      if (outcome.existing.agentId !== identity.agentId) {
        await deps.identities.remove(identity.agentId);
      }
      return { agent: await replayCreation(outcome.existing, requestHash), replayed: true };
    }
    return { agent, identity, replayed: false };

    async function replayCreation(
      record: AgentCreationRecord,
      hash: string,
    ): Promise<ManagedAgent> {
      if (record.requestHash !== hash) {
        throw new IdempotencyKeyReusedError(record.agentId);
      }
      return own(userId, record.agentId);
    }
  }

  async function change(
    userId: string,
    agentId: string,
    action: AgentChange['action'],
    fields: Partial<AgentSettings> & { readonly suspended?: boolean },
  ): Promise<ManagedAgent> {
    const agent = await own(userId, agentId);
    if (fields.suspended !== undefined && Object.keys(fields).length === 1) {
      if (agent.suspended === fields.suspended) return agent;
    }
    const at = deps.clock.now().toISOString();
    const updated = await deps.agents.update(
      agentId,
      agent.version,
      fields,
      { at, by: userId, action, changes: { ...fields } },
      at,
    );
    if (updated === undefined) {
      throw new AutopayError(
        'ILLEGAL_TRANSITION',
        'The agent changed meanwhile: read it and retry.',
        {
          agentId,
        },
      );
    }
    return updated;
  }

  return {
    create,
    get: own,
    list: (userId: string, limit: number, cursor?: string) =>
      deps.agents.listByOwner(userId, limit, cursor),
    patch: async (userId: string, agentId: string, body: unknown) =>
      change(userId, agentId, 'UPDATE', storedSettings(parseWith(patchSchema, body))),
    /** Suspends at once: intake and payment submission read the agent item on every order. */
    suspend: (userId: string, agentId: string) =>
      change(userId, agentId, 'SUSPEND', { suspended: true }),
    resume: (userId: string, agentId: string) =>
      change(userId, agentId, 'RESUME', { suspended: false }),
  };
}

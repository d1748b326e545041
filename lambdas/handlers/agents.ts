import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { dynamodb } from '#adapters/aws-clients.ts';
import {
  CognitoAgentIdentities,
  LocalAgentIdentities,
} from '#adapters/cognito-agent-identities.ts';
import { DynamoDbAgentStore } from '#adapters/dynamodb-agent-store.ts';
import { AutopayError } from '#domain/errors.ts';
import {
  agentView,
  type ManageAgentsDeps,
  makeManageAgents,
  pageLimit,
} from '#domain/manage-agents.ts';
import { systemClock } from '#domain/ports.ts';
import { readAgentsEnvironment } from '#shared/config.ts';
import { type HttpEvent, httpHandler, json, jsonBody, userOf } from '#shared/http.ts';
import { metricNames } from '#shared/metric-names.ts';
import { logger, metrics, tracer } from '#shared/observability.ts';
import { AGENT_SCOPES } from '#shared/scopes.ts';

/** `/v1/agents`: a user creates, reads, changes, suspends and resumes their agents. */
export function buildHandler(deps: ManageAgentsDeps) {
  const agents = makeManageAgents(deps);

  return httpHandler(async (event: HttpEvent) => {
    const userId = userOf(event);
    const agentId = event.pathParameters?.agentId ?? '';
    switch (event.routeKey) {
      case 'POST /v1/agents': {
        const created = await agents.create(
          userId,
          event.headers['idempotency-key'],
          jsonBody(event),
        );
        logger.info(created.replayed ? 'Agent creation replayed' : 'Agent created', {
          agentId: created.agent.agentId,
        });
        metrics.addMetric(metricNames.agentChanged, MetricUnit.Count, created.replayed ? 0 : 1);
        const body = {
          ...agentView(created.agent),
          // Shown once: a replay cannot show the secret again (autopay never stored it).
          ...(created.identity?.credentials ? { credentials: created.identity.credentials } : {}),
        };
        return created.replayed
          ? json(200, body, { 'idempotent-replayed': 'true' })
          : json(201, body);
      }
      case 'GET /v1/agents': {
        const query = event.queryStringParameters ?? {};
        const page = await agents.list(userId, pageLimit(query.limit), query.cursor);
        return json(200, {
          agents: page.items.map(agentView),
          ...(page.cursor ? { cursor: page.cursor } : {}),
        });
      }
      case 'GET /v1/agents/{agentId}':
        return json(200, agentView(await agents.get(userId, agentId)));
      case 'PATCH /v1/agents/{agentId}':
        return changed(await agents.patch(userId, agentId, jsonBody(event)));
      case 'POST /v1/agents/{agentId}/suspend':
        return changed(await agents.suspend(userId, agentId));
      case 'POST /v1/agents/{agentId}/resume':
        return changed(await agents.resume(userId, agentId));
      default:
        throw new AutopayError('ROUTE_NOT_FOUND');
    }
  });
}

function changed(agent: Parameters<typeof agentView>[0]) {
  logger.info('Agent changed', { agentId: agent.agentId, version: agent.version });
  metrics.addMetric(metricNames.agentChanged, MetricUnit.Count, 1);
  return json(200, agentView(agent));
}

const environment = readAgentsEnvironment();

export const handler = buildHandler({
  agents: new DynamoDbAgentStore(dynamodb, environment.TABLE_NAME),
  // No user pool (npm start, or another OIDC provider): agents get ids, not credentials.
  identities: environment.USER_POOL_ID
    ? new CognitoAgentIdentities(
        tracer.captureAWSv3Client(new CognitoIdentityProviderClient({})),
        environment.USER_POOL_ID,
        AGENT_SCOPES,
      )
    : new LocalAgentIdentities(),
  clock: systemClock,
  policy: {
    supportedCurrencies: environment.SUPPORTED_CURRENCIES,
    maxOrderAmount: environment.MAX_ORDER_AMOUNT,
  },
});

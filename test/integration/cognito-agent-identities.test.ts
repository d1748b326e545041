import {
  CognitoIdentityProviderClient,
  CreateResourceServerCommand,
  CreateUserPoolCommand,
  DescribeUserPoolClientCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-cognito-identity-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CognitoAgentIdentities } from '#adapters/cognito-agent-identities.ts';
import { AGENT_SCOPES, RESOURCE_SERVER } from '#shared/wiring.ts';
import {
  type Emulator,
  localCredentials,
  localRegion,
  startSecretsManagerLocal,
} from '../../local/runtime/emulators.ts';

/** moto's server emulates Cognito user pools too (the same process as the local secrets). */
let moto: Emulator;
let cognito: CognitoIdentityProviderClient;
let identities: CognitoAgentIdentities;
let userPoolId: string;

beforeAll(async () => {
  moto = await startSecretsManagerLocal();
  cognito = new CognitoIdentityProviderClient({
    endpoint: moto.endpoint,
    region: localRegion,
    credentials: localCredentials,
  });
  const pool = await cognito.send(new CreateUserPoolCommand({ PoolName: 'autopay-test' }));
  userPoolId = pool.UserPool?.Id ?? '';
  await cognito.send(
    new CreateResourceServerCommand({
      UserPoolId: userPoolId,
      Identifier: RESOURCE_SERVER,
      Name: 'autopay',
      Scopes: AGENT_SCOPES.map((scope) => ({
        ScopeName: scope.slice(RESOURCE_SERVER.length + 1),
        ScopeDescription: scope,
      })),
    }),
  );
  identities = new CognitoAgentIdentities(cognito, userPoolId, AGENT_SCOPES);
}, 60_000);

afterAll(async () => {
  await moto?.stop();
});

describe("Cognito agent identities (moto's cognito-idp)", () => {
  it('registers an agent as a client-credentials app client with the agent scopes only', async () => {
    // Act
    const identity = await identities.register({ requestId: 'req-1' });

    // Assess
    expect(identity.agentId).toMatch(/\S+/);
    expect(identity.credentials?.clientId).toBe(identity.agentId);
    expect(identity.credentials?.clientSecret).toMatch(/\S+/);
    const described = await cognito.send(
      new DescribeUserPoolClientCommand({ UserPoolId: userPoolId, ClientId: identity.agentId }),
    );
    expect(described.UserPoolClient).toMatchObject({
      ClientName: 'agent-req-1',
      AllowedOAuthFlows: ['client_credentials'],
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthScopes: [...AGENT_SCOPES],
    });
  });

  it('removes a client, and removing it again is not an error', async () => {
    // Prepare
    const identity = await identities.register({ requestId: 'req-2' });

    // Act
    await identities.remove(identity.agentId);
    await identities.remove(identity.agentId);

    // Assess
    await expect(
      cognito.send(
        new DescribeUserPoolClientCommand({ UserPoolId: userPoolId, ClientId: identity.agentId }),
      ),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });
});

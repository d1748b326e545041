import { Agent } from 'node:http';
import { Client } from 'tencentcloud-sdk-nodejs/tencentcloud/services/rce/v20201103/rce_client.js';
import type { ManageMarketingRiskResponse } from 'tencentcloud-sdk-nodejs/tencentcloud/services/rce/v20201103/rce_models.js';
import type { Tc3Credentials } from '../../lambdas/adapters/tc3-signature.ts';

/**
 * The official SDK's RCE client, pointed at a local simulator: the endpoint keeps Tencent's host
 * name, so the SDK signs the scope `rce` and the host as it would in the cloud, and an agent
 * whose every lookup answers 127.0.0.1 keeps the request on loopback.
 */
export function rceClient(port: number, credentials: Tc3Credentials): Client {
  const loopback = new Agent({
    lookup: (_host, options, callback) => {
      if ((options as { all?: boolean }).all) {
        (callback as (error: null, addresses: { address: string; family: number }[]) => void)(
          null,
          [{ address: '127.0.0.1', family: 4 }],
        );
        return;
      }
      callback(null, '127.0.0.1', 4);
    },
  });
  return new Client({
    credential: { secretId: credentials.secretId, secretKey: credentials.secretKey },
    region: 'ap-guangzhou',
    profile: {
      httpProfile: {
        endpoint: `rce.tencentcloudapi.com:${port}`,
        protocol: 'http://',
        reqTimeout: 5,
        agent: loopback,
      },
    },
  });
}

export function levelOf(response: ManageMarketingRiskResponse): string | undefined {
  return response.Data?.Value?.RiskLevel;
}

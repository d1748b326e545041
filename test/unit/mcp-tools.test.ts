import { describe, expect, it } from 'vitest';
import { AGENT_SCOPE, functionSpecs, type RouteSpec } from '#shared/wiring.ts';
import { tools } from '../../mcp/server.ts';

const routes: RouteSpec[] = Object.values(functionSpecs).flatMap((spec) => spec.routes ?? []);
const routeOf = (tool: { route: Pick<RouteSpec, 'method' | 'path'> }) =>
  routes.find((route) => route.method === tool.route.method && route.path === tool.route.path);

describe("the MCP server's tools", () => {
  it.each(Object.entries(tools))("%s calls a route an agent's token may call", (_, tool) => {
    expect(routeOf(tool)?.scopes).toContain(AGENT_SCOPE);
  });

  it("offers no tool for the user's own actions (confirm, refund, agents, webhooks)", () => {
    const userOnly = routes.filter(
      (route) => route.auth === 'jwt' && !route.scopes?.includes(AGENT_SCOPE),
    );

    expect(userOnly.map((route) => `${route.method} ${route.path}`)).toEqual(
      expect.arrayContaining([
        'POST /v1/orders/{id}/confirm',
        'POST /v1/orders/{id}/refund',
        'POST /v1/agents/{agentId}/suspend',
      ]),
    );
    for (const tool of Object.values(tools)) {
      expect(userOnly).not.toContain(routeOf(tool));
    }
    expect(Object.keys(tools).sort()).toEqual([
      'cancel_order',
      'get_order',
      'list_orders',
      'place_order',
    ]);
  });
});

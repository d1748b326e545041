/** The gateway that speaks Stripe's API, chosen by GATEWAY_NAME; any other name is the simulator's. */
export const stripeGatewayName = 'stripe';

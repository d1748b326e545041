import { documentClient, sqsClient } from './client-factories.ts';

/**
 * The notification functions' own clients, in a module of their own so that no other function
 * makes them. In AWS each function is its own bundle with one client either way; locally every
 * function shares one process, and these keep the notifications' calls apart from the payment
 * path's, whose cost is counted call by call.
 */
export const notificationClients = { dynamodb: documentClient(), sqs: sqsClient() };

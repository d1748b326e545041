import { readAwsClientEnvironment } from '#shared/config.ts';

/**
 * The Node HTTP handler settings of every AWS client: a call whose connection or answer hangs
 * fails within its timeout, and the SDK retries it (a `TimeoutError` is transient to it), instead
 * of waiting for the function's own timeout. `throwOnRequestTimeout` makes a late answer an
 * error in the SDK releases where it would only be a warning.
 */
export function requestHandlerOptions() {
  const { AWS_CONNECTION_TIMEOUT_MS, AWS_REQUEST_TIMEOUT_MS } = readAwsClientEnvironment();
  return {
    ...(AWS_CONNECTION_TIMEOUT_MS === undefined
      ? {}
      : { connectionTimeout: AWS_CONNECTION_TIMEOUT_MS }),
    ...(AWS_REQUEST_TIMEOUT_MS === undefined
      ? {}
      : { requestTimeout: AWS_REQUEST_TIMEOUT_MS, throwOnRequestTimeout: true }),
  };
}

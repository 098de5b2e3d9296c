/**
 * A local endpoint speaking Lambda's REST-JSON protocol for the two actions `featurize start` calls:
 * GetAccountSettings (GET /2016-08-19/account-settings) and GetFunctionConcurrency
 * (GET /2019-09-30/functions/{FunctionName}/concurrency). The test sets the account's limits and each function's
 * reservation; the real SDK client sends the requests and parses the answers and errors.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LocalLambda {
  endpoint: string;
  account: { concurrentExecutions: number; unreservedConcurrentExecutions: number };
  /** Function name or ARN -> its reserved concurrency; a function not here has none. */
  reserved: Map<string, number>;
  /** An error every GetAccountSettings answers with, when set (a caller without lambda:GetAccountSettings). */
  failAccountSettings?: { type: string; status: number; message: string };
  /** Request paths, decoded. */
  requests: string[];
  stop(): Promise<void>;
}

export async function startLocalLambda(): Promise<LocalLambda> {
  const local: LocalLambda = {
    endpoint: '',
    account: { concurrentExecutions: 1000, unreservedConcurrentExecutions: 1000 },
    reserved: new Map(),
    requests: [],
    stop: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    local.requests.push(path);
    response.setHeader('content-type', 'application/json');
    const fail = (status: number, type: string, message: string) => {
      response.statusCode = status;
      response.setHeader('x-amzn-errortype', type);
      response.end(JSON.stringify({ Type: 'User', message }));
    };
    if (request.method === 'GET' && path === '/2016-08-19/account-settings') {
      const failure = local.failAccountSettings;
      if (failure) return fail(failure.status, failure.type, failure.message);
      const { concurrentExecutions, unreservedConcurrentExecutions } = local.account;
      return response.end(
        JSON.stringify({
          AccountLimit: {
            TotalCodeSize: 80530636800,
            CodeSizeUnzipped: 262144000,
            CodeSizeZipped: 52428800,
            ConcurrentExecutions: concurrentExecutions,
            UnreservedConcurrentExecutions: unreservedConcurrentExecutions,
          },
          AccountUsage: { TotalCodeSize: 0, FunctionCount: 0 },
        }),
      );
    }
    const concurrency = /^\/2019-09-30\/functions\/(.+)\/concurrency$/.exec(path);
    if (request.method === 'GET' && concurrency) {
      const reserved = local.reserved.get(concurrency[1] ?? '');
      return response.end(JSON.stringify(reserved === undefined ? {} : { ReservedConcurrentExecutions: reserved }));
    }
    return fail(404, 'ResourceNotFoundException', `no route for ${request.method} ${path}`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  local.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return local;
}

/**
 * A local endpoint speaking the Step Functions JSON protocol (awsJson1_0: POST /, `X-Amz-Target:
 * AWSStepFunctions.<Action>`), holding executions in memory and recording every request. The SDK client is
 * pointed at it (`endpoint`, or AWS_ENDPOINT_URL_SFN), so the code under test runs the real client, requests
 * and error parsing included. It implements the actions the project calls, with the service's semantics for
 * what the tests rely on: StartExecution's idempotency and ExecutionAlreadyExists.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface ItemCounts {
  pending: number;
  running: number;
  succeeded: number;
  failed: number;
  timedOut: number;
  aborted: number;
  total: number;
  resultsWritten: number;
}

export interface FakeExecution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  input: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  /** The Distributed Map runs of this execution, once it has some (extraction's, the reduce fan-out's). */
  mapRuns?: { mapRunArn: string; status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'ABORTED'; itemCounts: ItemCounts }[];
}

export interface RecordedRequest {
  action: string;
  body: Record<string, unknown>;
}

export interface LocalStepFunctions {
  endpoint: string;
  requests: RecordedRequest[];
  executions: Map<string, FakeExecution>;
  /** State machines DescribeStateMachine knows, by ARN: their (substituted) definitions. */
  stateMachines: Map<string, { name: string; definition: string }>;
  /** Called before each DescribeExecution answer: a test moves the execution along here. */
  onDescribeExecution?: (execution: FakeExecution) => void;
  /** An error every StartExecution answers with, when set (e.g. the state machine was deleted). */
  failStartExecution?: { type: string; message: string };
  stop(): Promise<void>;
}

class ServiceError extends Error {
  readonly type: string;
  constructor(type: string, message: string) {
    super(message);
    this.type = type;
  }
}

export async function startLocalStepFunctions(): Promise<LocalStepFunctions> {
  const local: LocalStepFunctions = {
    endpoint: '',
    requests: [],
    executions: new Map(),
    stateMachines: new Map(),
    stop: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };

  const actions: Record<string, (body: Record<string, unknown>) => unknown> = {
    StartExecution: (body) => {
      if (local.failStartExecution) throw new ServiceError(local.failStartExecution.type, local.failStartExecution.message);
      const stateMachineArn = String(body.stateMachineArn);
      const name = String(body.name ?? crypto.randomUUID());
      const input = String(body.input ?? '{}');
      const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
      const existing = local.executions.get(executionArn);
      if (existing) {
        // The service: the same name and input while running returns that execution; anything else is refused.
        if (existing.status === 'RUNNING' && existing.input === input) {
          return { executionArn, startDate: seconds(existing.startDate) };
        }
        throw new ServiceError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
      }
      const execution: FakeExecution = { executionArn, stateMachineArn, name, input, status: 'RUNNING', startDate: new Date() };
      local.executions.set(executionArn, execution);
      return { executionArn, startDate: seconds(execution.startDate) };
    },
    DescribeExecution: (body) => {
      const execution = executionOf(String(body.executionArn));
      local.onDescribeExecution?.(execution);
      return {
        executionArn: execution.executionArn,
        stateMachineArn: execution.stateMachineArn,
        name: execution.name,
        status: execution.status,
        input: execution.input,
        startDate: seconds(execution.startDate),
        ...(execution.stopDate ? { stopDate: seconds(execution.stopDate) } : {}),
        ...(execution.output !== undefined ? { output: execution.output } : {}),
        ...(execution.error !== undefined ? { error: execution.error } : {}),
        ...(execution.cause !== undefined ? { cause: execution.cause } : {}),
      };
    },
    DescribeStateMachine: (body) => {
      const arn = String(body.stateMachineArn);
      const machine = local.stateMachines.get(arn);
      if (!machine) throw new ServiceError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
      return {
        stateMachineArn: arn,
        name: machine.name,
        status: 'ACTIVE',
        definition: machine.definition,
        roleArn: 'arn:aws:iam::111122223333:role/featurize',
        type: 'STANDARD',
        creationDate: 0,
      };
    },
    ListMapRuns: (body) => {
      const execution = executionOf(String(body.executionArn));
      const runs = (execution.mapRuns ?? []).map((run) => ({
        executionArn: execution.executionArn,
        mapRunArn: run.mapRunArn,
        stateMachineArn: execution.stateMachineArn,
        startDate: seconds(execution.startDate),
      }));
      return { mapRuns: runs };
    },
    DescribeMapRun: (body) => {
      const arn = String(body.mapRunArn);
      const execution = [...local.executions.values()].find((candidate) => candidate.mapRuns?.some((run) => run.mapRunArn === arn));
      const mapRun = execution?.mapRuns?.find((run) => run.mapRunArn === arn);
      if (!execution || !mapRun) throw new ServiceError('ResourceNotFound', `Map Run Does Not Exist: '${arn}'`);
      const { itemCounts, status } = mapRun;
      return {
        mapRunArn: arn,
        executionArn: execution.executionArn,
        status,
        startDate: seconds(execution.startDate),
        maxConcurrency: 100,
        toleratedFailurePercentage: 5,
        toleratedFailureCount: 0,
        itemCounts,
        executionCounts: itemCounts,
      };
    },
  };

  function executionOf(arn: string): FakeExecution {
    const execution = local.executions.get(arn);
    if (!execution) throw new ServiceError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    return execution;
  }

  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const target = String(request.headers['x-amz-target'] ?? '');
    const action = target.replace(/^AWSStepFunctions\./, '');
    const body = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
    local.requests.push({ action, body });
    const send = (status: number, payload: unknown, errorType?: string) => {
      response.writeHead(status, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-requestid': crypto.randomUUID(),
        ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
      });
      response.end(JSON.stringify(payload));
    };
    const handle = actions[action];
    if (!handle) return send(400, { __type: 'UnknownOperationException', message: target }, 'UnknownOperationException');
    try {
      send(200, handle(body));
    } catch (error) {
      if (!(error instanceof ServiceError)) throw error;
      send(400, { __type: `com.amazonaws.states#${error.type}`, message: error.message }, error.type);
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  local.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return local;
}

/** awsJson1_0 timestamps: epoch seconds. */
function seconds(date: Date): number {
  return date.getTime() / 1000;
}

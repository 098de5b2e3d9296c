/**
 * A local endpoint speaking CloudFormation's query protocol (form-encoded `Action=...`, XML answers) for the one
 * action the CLI calls, DescribeStacks, over stacks the test declares by name with their outputs.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LocalCloudFormation {
  endpoint: string;
  /** Stack name -> its outputs (OutputKey -> OutputValue). */
  stacks: Map<string, Record<string, string>>;
  requests: URLSearchParams[];
  stop(): Promise<void>;
}

export async function startLocalCloudFormation(): Promise<LocalCloudFormation> {
  const local: LocalCloudFormation = {
    endpoint: '',
    stacks: new Map(),
    requests: [],
    stop: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    local.requests.push(params);
    const name = params.get('StackName') ?? '';
    const outputs = local.stacks.get(name);
    response.setHeader('content-type', 'text/xml');
    if (params.get('Action') !== 'DescribeStacks' || !outputs) {
      response.statusCode = 400;
      response.end(
        `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type>` +
          `<Code>ValidationError</Code><Message>Stack with id ${xml(name)} does not exist</Message></Error>` +
          `<RequestId>${crypto.randomUUID()}</RequestId></ErrorResponse>`,
      );
      return;
    }
    const members = Object.entries(outputs)
      .map(([key, value]) => `<member><OutputKey>${xml(key)}</OutputKey><OutputValue>${xml(value)}</OutputValue></member>`)
      .join('');
    response.end(
      `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks>` +
        `<member><StackName>${xml(name)}</StackName><StackId>arn:aws:cloudformation:eu-west-1:111122223333:stack/${xml(name)}/1</StackId>` +
        `<CreationTime>2026-11-25T12:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs>${members}</Outputs>` +
        `</member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>${crypto.randomUUID()}</RequestId></ResponseMetadata>` +
        `</DescribeStacksResponse>`,
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  local.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return local;
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

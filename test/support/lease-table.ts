/**
 * The deployment's lease table (infra/lease-table.ts: key `resource`, on demand) on a real DynamoDB implementation
 * (dynalite, conditional writes included), for the tests of the lease and of the functions that take it.
 */
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';

export interface LeaseTable {
  client: DynamoDBClient;
  /** The server's URL, as AWS_ENDPOINT_URL_DYNAMODB would name it. */
  endpoint: string;
  close(): Promise<void>;
}

export async function startLeaseTable(table: string): Promise<LeaseTable> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  await client.send(
    new CreateTableCommand({
      TableName: table,
      KeySchema: [{ AttributeName: 'resource', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'resource', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return {
    client,
    endpoint,
    close: async () => {
      client.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

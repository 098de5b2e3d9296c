/** The lease of publish-lease.ts in a DynamoDB table: conditional writes on one item per resource. */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { StorageUnavailableError } from '../errors.ts';
import type { LeaseStore } from './publish-lease.ts';

/** The leases in a DynamoDB table keyed by `resource` (string). */
export class DynamoLeaseStore implements LeaseStore {
  readonly where: string;
  private readonly client: DynamoDBClient;
  private readonly table: string;
  private readonly resource: string;

  constructor(table: string, resource: string, client = new DynamoDBClient({})) {
    this.table = table;
    this.resource = resource;
    this.client = client;
    this.where = `${resource} (DynamoDB table ${table})`;
  }

  async tryAcquire(owner: string, leaseMs: number) {
    const now = Date.now();
    try {
      await this.call((client) =>
        client.send(
          new PutItemCommand({
            TableName: this.table,
            Item: {
              resource: { S: this.resource },
              owner: { S: owner },
              expiresAt: { N: String(now + leaseMs) },
              acquiredAt: { N: String(now) },
            },
            ConditionExpression: 'attribute_not_exists(#resource) OR #expiresAt < :now',
            ExpressionAttributeNames: { '#resource': 'resource', '#expiresAt': 'expiresAt' },
            ExpressionAttributeValues: { ':now': { N: String(now) } },
          }),
        ),
      );
      return { acquired: true } as const;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const { Item } = await this.call((client) =>
        client.send(new GetItemCommand({ TableName: this.table, Key: { resource: { S: this.resource } }, ConsistentRead: true })),
      );
      return { acquired: false, holder: `run ${Item?.owner?.S ?? 'unknown'}` } as const;
    }
  }

  async renew(owner: string, leaseMs: number): Promise<boolean> {
    try {
      await this.call((client) =>
        client.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: { resource: { S: this.resource } },
            UpdateExpression: 'SET #expiresAt = :expiresAt',
            ConditionExpression: '#owner = :owner',
            ExpressionAttributeNames: { '#owner': 'owner', '#expiresAt': 'expiresAt' },
            ExpressionAttributeValues: { ':owner': { S: owner }, ':expiresAt': { N: String(Date.now() + leaseMs) } },
          }),
        ),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async release(owner: string): Promise<void> {
    try {
      await this.call((client) =>
        client.send(
          new DeleteItemCommand({
            TableName: this.table,
            Key: { resource: { S: this.resource } },
            ConditionExpression: '#owner = :owner',
            ExpressionAttributeNames: { '#owner': 'owner' },
            ExpressionAttributeValues: { ':owner': { S: owner } },
          }),
        ),
      );
    } catch (error) {
      // Not ours any more: it expired and another owner took it.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** A request whose failure, but for a failed condition, is the table being unreachable (retried by the state machine). */
  private async call<T>(request: (client: DynamoDBClient) => Promise<T>): Promise<T> {
    try {
      return await request(this.client);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw error;
      throw new StorageUnavailableError(`cannot reach the lease table ${this.table}: ${(error as Error).message}`, { cause: error });
    }
  }
}

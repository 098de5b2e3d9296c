/**
 * The leases runs take on an output before changing its dataset (functions/shared/dataset/publish-lease.ts): one
 * item per output location, taken and released with conditional writes. A lease lives for minutes: nothing here
 * is worth a backup or a retained table.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, type ITableV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { acknowledge } from './nag.ts';

export class LeaseTable extends Construct {
  readonly table: ITableV2;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const table = new TableV2(this, 'Table', {
      partitionKey: { name: 'resource', type: AttributeType.STRING },
      billing: Billing.onDemand(),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    acknowledge(
      table,
      'AwsSolutions-DDB3',
      'Leases held for minutes while a run publishes: nothing to recover to a point in time; a lost table only makes the next publish take a fresh lease.',
    );
    this.table = table;
  }

  /** Take, renew, release and read a lease: the four conditional item operations, on this table only. */
  grantLeases(grantee: IGrantable): void {
    this.table.grant(grantee, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem');
  }
}

/**
 * Grants written out statement by statement, each acknowledged to cdk-nag where a key pattern leaves a wildcard,
 * and a step's S3 access (statemachine/steps.ts) as IAM statements on the data bucket.
 */
import { type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { KeyPattern, StepAccess } from '../statemachine/steps.ts';
import { acknowledgeWildcardResources } from './nag.ts';

export interface BucketPrefixes {
  inputPrefix: string;
  outputPrefix: string;
}

export const allow = (actions: string[], resources: string[]) => new PolicyStatement({ actions, resources });

/** s3:ListBucket limited to keys under the prefixes (the bucket's ARN is the resource, the prefix a condition). */
export function listing(bucket: IBucket, prefixes: readonly string[]): PolicyStatement {
  return new PolicyStatement({
    actions: ['s3:ListBucket'],
    resources: [bucket.bucketArn],
    conditions: { StringLike: { 's3:prefix': prefixes.map((prefix) => `${prefix}*`) } },
  });
}

/** A key pattern of the run layout as a key of the bucket. */
export function bucketKey(pattern: KeyPattern, prefixes: BucketPrefixes): string {
  const [place, rest] = [pattern.slice(0, pattern.indexOf(':')), pattern.slice(pattern.indexOf(':') + 1)];
  return `${place === 'input' ? prefixes.inputPrefix : prefixes.outputPrefix}${rest}`;
}

/** A step's access as the statements that allow exactly it. */
export function accessStatements(bucket: IBucket, access: StepAccess, prefixes: BucketPrefixes): PolicyStatement[] {
  const objects = (patterns: readonly KeyPattern[] = []) => patterns.map((pattern) => bucket.arnForObjects(bucketKey(pattern, prefixes)));
  const statements: PolicyStatement[] = [];
  if (access.list?.length)
    statements.push(
      listing(
        bucket,
        access.list.map((pattern) => bucketKey(pattern, prefixes)),
      ),
    );
  const objectActions: [string[], readonly KeyPattern[] | undefined][] = [
    [['s3:GetObject'], access.read],
    [['s3:PutObject'], access.write],
    // Tagging on upload needs both.
    [['s3:PutObject', 's3:PutObjectTagging'], access.writeTagged],
    [['s3:DeleteObject'], access.delete],
  ];
  for (const [actions, patterns] of objectActions) if (patterns?.length) statements.push(allow(actions, objects(patterns)));
  return statements;
}

/**
 * Adds each statement to the role (and to nothing else). A wildcard left in a resource is a key pattern under
 * one prefix of the run layout (keys name images and runs, unknown at deploy time): acknowledged as such.
 */
export function grant(role: IRole | undefined, statements: readonly PolicyStatement[]): void {
  if (!role) throw new Error('a function without a role cannot be granted anything');
  for (const statement of statements) {
    role.addToPrincipalPolicy(statement);
    acknowledgeWildcardResources(
      role,
      statement.resources,
      `Objects or executions under one prefix only (${statement.actions.join(', ')}): their names are per image ` +
        'and per run, unknown at deploy time; the prefix is the narrowest scope.',
    );
  }
}

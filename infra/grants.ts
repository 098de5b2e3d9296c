/**
 * Grants written out statement by statement, each acknowledged to cdk-nag where a key pattern leaves a wildcard,
 * and a step's S3 access (statemachine/steps.ts) as IAM statements on the data bucket.
 */
import { Aws } from 'aws-cdk-lib';
import { type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { KeyPattern, StepAccess } from '../statemachine/steps.ts';
import { acknowledgeWildcardResources } from './nag.ts';

export interface BucketPrefixes {
  inputPrefix: string;
  /** Every output prefix a run may write (infra/settings.ts): the deployment's own and any extra ones. */
  outputPrefixes: readonly string[];
}

export const allow = (actions: string[], resources: string[]) => new PolicyStatement({ actions, resources });

/**
 * Writing an object: the SDK's uploads (lib-storage, functions/shared/storage/s3-storage.ts) go multipart above
 * 5 MiB, and abort the upload when a part fails, which takes its own permission: without it the parts stay (and are
 * billed) until the bucket's lifecycle rule removes them
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions).
 */
export const uploadActions = ['s3:PutObject', 's3:AbortMultipartUpload'];

/** s3:ListBucket limited to keys under the prefixes (the bucket's ARN is the resource, the prefix a condition). */
export function listing(bucket: IBucket, prefixes: readonly string[]): PolicyStatement {
  return new PolicyStatement({
    actions: ['s3:ListBucket'],
    resources: [bucket.bucketArn],
    conditions: { StringLike: { 's3:prefix': prefixes.map((prefix) => `${prefix}*`) } },
  });
}

/** A key pattern of the run layout as keys of the bucket: under the input prefix, or under every output prefix. */
export function bucketKeys(pattern: KeyPattern, prefixes: BucketPrefixes): string[] {
  const [place, rest] = [pattern.slice(0, pattern.indexOf(':')), pattern.slice(pattern.indexOf(':') + 1)];
  return (place === 'input' ? [prefixes.inputPrefix] : prefixes.outputPrefixes).map((prefix) => `${prefix}${rest}`);
}

/** A step's access as the statements that allow exactly it. */
export function accessStatements(bucket: IBucket, access: StepAccess, prefixes: BucketPrefixes): PolicyStatement[] {
  const objects = (patterns: readonly KeyPattern[] = []) =>
    patterns.flatMap((pattern) => bucketKeys(pattern, prefixes)).map((key) => bucket.arnForObjects(key));
  const statements: PolicyStatement[] = [];
  if (access.list?.length)
    statements.push(
      listing(
        bucket,
        access.list.flatMap((pattern) => bucketKeys(pattern, prefixes)),
      ),
    );
  const objectActions: [string[], readonly KeyPattern[] | undefined][] = [
    [['s3:GetObject'], access.read],
    [uploadActions, access.write],
    // Tagging on upload needs both.
    [[...uploadActions, 's3:PutObjectTagging'], access.writeTagged],
    [['s3:DeleteObject'], access.delete],
  ];
  for (const [actions, patterns] of objectActions) if (patterns?.length) statements.push(allow(actions, objects(patterns)));
  return statements;
}

/**
 * The statements, plus what a bucket encrypted with a KMS key (SSE-KMS) requires of them: kms:Decrypt to read an
 * object; to write one, kms:GenerateDataKey (its data key) and kms:Decrypt (a multipart upload decrypts the data key
 * to add each part) (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions). Only through S3
 * (kms:ViaService): the role cannot use the key directly. No key: the statements as they are.
 */
export function withBucketKey(statements: readonly PolicyStatement[], keyArn: string | undefined): PolicyStatement[] {
  if (!keyArn) return [...statements];
  const actions = new Set(statements.flatMap((statement) => statement.actions));
  const kmsActions = [
    ...(actions.has('s3:GetObject') || actions.has('s3:PutObject') ? ['kms:Decrypt'] : []),
    ...(actions.has('s3:PutObject') ? ['kms:GenerateDataKey'] : []),
  ];
  if (kmsActions.length === 0) return [...statements];
  return [
    ...statements,
    new PolicyStatement({
      actions: kmsActions,
      resources: [keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `s3.${Aws.REGION}.amazonaws.com` } },
    }),
  ];
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

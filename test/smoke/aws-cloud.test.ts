/**
 * The AWS side of the smoke test cannot run here (no account, no Docker for the image); what it decides before
 * touching anything can: it never deploys over, nor destroys, a stack it did not make.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwsSmokeCloud } from '../../tools/smoke/aws-cloud.ts';
import { type LocalCloudFormation, startLocalCloudFormation } from '../support/cloudformation-server.ts';

let cloudFormation: LocalCloudFormation;

beforeAll(async () => {
  cloudFormation = await startLocalCloudFormation();
  // The user's own deployment, untagged.
  cloudFormation.stacks.set('Featurize', { StateMachineArn: 'arn:aws:states:us-east-1:111122223333:stateMachine:F', BucketName: 'data' });
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_CLOUDFORMATION: cloudFormation.endpoint,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
  });
});
afterAll(() => cloudFormation.stop());

describe('the smoke test on AWS', () => {
  it('refuses to deploy over a stack it did not make, and leaves such a stack alone at teardown', async () => {
    const log: string[] = [];
    const cloud = new AwsSmokeCloud({ stackName: 'Featurize', log: (line) => log.push(line) });
    await expect(cloud.deploy()).rejects.toMatchObject({
      name: 'ConfigError',
      message: 'stack Featurize exists and was not deployed by the smoke test: choose another --stack',
    });
    await cloud.teardown();
    expect(log).toEqual([]);
    expect(cloudFormation.requests.map((request) => request.get('Action'))).toEqual(['DescribeStacks', 'DescribeStacks']);
  });
});

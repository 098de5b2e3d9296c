/**
 * The publish-pca Lambda: after the PcaParts map, under the output's lease, copies the staged reduced parts into
 * the model's partition of features-pca/, reduces again any whose source changed since, and removes twins whose
 * source is gone (publish-pca.ts).
 *
 * Event (the PublishPca state's Parameters): { runId, output: { bucket, prefix }, plan: PcaPlan (Pca's result) }.
 * Returns PcaRunResult.
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { type PcaRunResult, type PublishPcaEvent, publishPcaEventSchema } from '../../statemachine/contracts.ts';
import { leaseSettings, reduceSettings } from '../shared/config.ts';
import { leaseOwner, leaseStoreFor, withLease } from '../shared/dataset/publish-lease.ts';
import { parseEvent } from '../shared/middleware/parse-event.ts';
import { logger } from '../shared/observability.ts';
import { openStorage } from '../shared/storage/open-storage.ts';
import { publishPca } from './publish-pca.ts';

const { rowGroupRows, readConcurrency } = reduceSettings();
const { leaseSeconds } = leaseSettings();

export async function publishPcaEvent(event: PublishPcaEvent): Promise<PcaRunResult> {
  const output = openStorage(event.output);
  const result = await withLease(await leaseStoreFor(output), leaseOwner(event.runId), leaseSeconds * 1000, (lease) =>
    publishPca({ runId: event.runId, output, plan: event.plan, lease }, { rowGroupRows, concurrency: readConcurrency }),
  );
  logger.info(result.fitted ? 'pca fitted and applied' : 'saved pca model applied', { ...result });
  return result;
}

export const handler = middy(publishPcaEvent).use(injectLambdaContext(logger)).use(parseEvent(publishPcaEventSchema));

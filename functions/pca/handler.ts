/**
 * The PCA Lambda: runs after validation passed, when the run's input asks for PCA.
 *
 * Event (the Pca state's Parameters): { runId, output: { bucket, prefix }, pca }, where pca is a request:
 * a share in (0, 1), a number of components, {}, { varianceShare }, { components } or { model: "<uri>" }
 * (see functions/shared/pca/pca-setting.ts). Returns PcaRunResult.
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { type PcaEvent, type PcaRunResult, pcaEventSchema } from '../../statemachine/contracts.ts';
import { leaseSettings, reduceSettings } from '../shared/config.ts';
import { leaseOwner, leaseStoreFor, withLease } from '../shared/dataset/publish-lease.ts';
import { parseEvent } from '../shared/middleware/parse-event.ts';
import { logger } from '../shared/observability.ts';
import { decodePcaModel } from '../shared/pca/pca-model.ts';
import { openObjectUri, openStorage } from '../shared/storage/open-storage.ts';
import { type PcaRunRequest, runPca } from './run-pca.ts';

// The reduced parts are written like the feature parts: the same FEATURIZE_ROW_GROUP_ROWS, read once.
const { rowGroupRows } = reduceSettings();
const { leaseSeconds } = leaseSettings();

export async function pca(event: PcaEvent): Promise<PcaRunResult> {
  const request = event.pca;
  let mode: PcaRunRequest['mode'];
  if ('fit' in request) {
    mode = request;
  } else {
    const { storage, key } = openObjectUri(request.apply);
    const from = storage.locationOf(key);
    mode = { apply: decodePcaModel(Buffer.from(await storage.read(key)).toString('utf8'), from), from };
  }
  const output = openStorage(event.output);
  // features/ must not change under the fit and the partition's rewrite: PCA takes the lease publishing takes.
  const result = await withLease(await leaseStoreFor(output), leaseOwner(event.runId), leaseSeconds * 1000, () =>
    runPca({ runId: event.runId, output, mode, rowGroupRows }),
  );
  logger.info(result.fitted ? 'pca fitted and applied' : 'saved pca model applied', { ...result });
  return result;
}

export const handler = middy(pca).use(injectLambdaContext(logger)).use(parseEvent(pcaEventSchema));

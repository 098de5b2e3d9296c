/**
 * The PCA Lambda: runs after validation passed, when the run's input asks for PCA. Fits the model (or takes the
 * saved one) and plans the reduction the PcaParts map fans out (plan-pca.ts).
 *
 * Event (the Pca state's Parameters): { runId, output: { bucket, prefix }, pca }, where pca is a request:
 * a share in (0, 1), a number of components, {}, { varianceShare }, { components } or { model: "<uri>" }
 * (see functions/shared/pca/pca-setting.ts). Returns PcaPlan.
 */

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { type PcaEvent, type PcaPlan, pcaEventSchema } from '../../statemachine/contracts.ts';
import { leaseSettings } from '../shared/config.ts';
import { leaseOwner, leaseStoreFor, withLease } from '../shared/dataset/publish-lease.ts';
import { parseEvent } from '../shared/middleware/parse-event.ts';
import { logger } from '../shared/observability.ts';
import { decodePcaModel } from '../shared/pca/pca-model.ts';
import { openObjectUri, openStorage } from '../shared/storage/open-storage.ts';
import { type PcaPlanRequest, planPca } from './plan-pca.ts';

const { leaseSeconds } = leaseSettings();

export async function pca(event: PcaEvent): Promise<PcaPlan> {
  const request = event.pca;
  let mode: PcaPlanRequest['mode'];
  if ('fit' in request) {
    mode = request;
  } else {
    const { storage, key } = openObjectUri(request.apply);
    const from = storage.locationOf(key);
    mode = { apply: decodePcaModel(Buffer.from(await storage.read(key)).toString('utf8'), from), from };
  }
  const output = openStorage(event.output);
  // features/ must hold still while it is listed for the plan: PCA takes the lease publishing takes.
  const plan = await withLease(await leaseStoreFor(output), leaseOwner(event.runId), leaseSeconds * 1000, () =>
    planPca({ runId: event.runId, output, outputLocation: event.output, mode }),
  );
  logger.info(plan.fitted ? 'pca fitted, reduction planned' : 'saved pca model taken, reduction planned', { ...plan });
  return plan;
}

export const handler = middy(pca).use(injectLambdaContext(logger)).use(parseEvent(pcaEventSchema));

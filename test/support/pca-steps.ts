/**
 * A run's PCA as the state machine runs it, in one process: Pca (fit or apply, and the plan), each planned part
 * as its PcaParts child reduces it (one after the other), then PublishPca. The same handlers the Lambdas run.
 */
import type { Context } from 'aws-lambda';
import { handler as pcaHandler } from '../../functions/pca/handler.ts';
import { handler as pcaPartHandler } from '../../functions/pca-part/handler.ts';
import { handler as publishPcaHandler } from '../../functions/publish-pca/handler.ts';
import { pcaPlanKey } from '../../functions/shared/run-layout.ts';
import { openStorage } from '../../functions/shared/storage/open-storage.ts';
import type { PcaPlan, PcaPlanItem, PcaRunResult } from '../../statemachine/contracts.ts';

const context = { functionName: 'pca', awsRequestId: 'test' } as Context;

export interface PcaStepsEvent {
  runId: string;
  output: { bucket: string; prefix?: string };
  pca: unknown;
}

/** Pca, the map's children, `beforePublish` (a publish meanwhile, say), then PublishPca's result. */
export async function runPcaSteps(event: PcaStepsEvent, beforePublish?: (plan: PcaPlan) => Promise<void>): Promise<PcaRunResult> {
  const output = { prefix: '', ...event.output };
  const plan = (await pcaHandler({ ...event, output } as never, context)) as PcaPlan;
  const items = JSON.parse(Buffer.from(await openStorage(output).read(pcaPlanKey(event.runId))).toString('utf8')) as PcaPlanItem[];
  for (const item of items) {
    await pcaPartHandler({ Items: [item], BatchInput: { runId: event.runId, output, modelId: plan.modelId } } as never, context);
  }
  await beforePublish?.(plan);
  return (await publishPcaHandler({ runId: event.runId, output, plan } as never, context)) as PcaRunResult;
}

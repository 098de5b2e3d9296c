/**
 * The last step of a run's PCA, under the output's lease: brings the model's partition
 * (features-pca/pca_model=<modelId>/) in line with features/ as it is now, from what the PcaParts children staged.
 * For each planned part, against features/ listed anew:
 *   source unchanged since PcaPart read it (its version) → the staged reduced part copied into the partition;
 *   source changed since (a publish rewrote it meanwhile) → reduced again here (rare: one part, the lease held);
 *   source gone → nothing written (its twin goes with the removals below).
 * Then twins whose source is gone from features/ are removed. Writes before removals; each write replaces one
 * object whole, so a crash leaves every part's twin as it was or complete, and running it again does the same.
 * Knows nothing of Lambda.
 */
import pMap from 'p-map';
import { z } from 'zod';
import { type PcaPlan, type PcaRunResult, pcaPlanItemSchema } from '../../statemachine/contracts.ts';
import { listParts, openPart, partKeyValues, partVersion } from '../shared/dataset/feature-parts.ts';
import type { Lease } from '../shared/dataset/publish-lease.ts';
import { RunArtifactError } from '../shared/errors.ts';
import { parseJsonDocument } from '../shared/json-document.ts';
import { decodePcaModel } from '../shared/pca/pca-model.ts';
import { pcaSourceVersionKey, reduceFeaturesPart } from '../shared/pca/reduce-features-part.ts';
import { featuresPrefix, partRunId, pcaPartitionPrefix, pcaPlanKey, pcaStagedPartKey, pcaStagedPartsPrefix } from '../shared/run-layout.ts';
import type { Storage } from '../shared/storage/storage.ts';

export interface PublishPcaRequest {
  runId: string;
  output: Storage;
  plan: PcaPlan;
  lease: Pick<Lease, 'check'>;
}

export interface PublishPcaOptions {
  rowGroupRows: number;
  /** Parts copied (or reduced) at once. */
  concurrency: number;
}

export async function publishPca({ runId, output, plan, lease }: PublishPcaRequest, options: PublishPcaOptions): Promise<PcaRunResult> {
  const items = parseJsonDocument(z.array(pcaPlanItemSchema), await output.read(pcaPlanKey(runId)), output.locationOf(pcaPlanKey(runId)), {
    expected: "a run's PCA plan",
    error: RunArtifactError,
  });
  const model = decodePcaModel(Buffer.from(await output.read(plan.model)).toString('utf8'), output.locationOf(plan.model));
  const partition = pcaPartitionPrefix(plan.modelId);
  const sources = new Map((await listParts(output)).map((object) => [object.key, object]));
  const staged = new Map((await listParts(output, pcaStagedPartsPrefix(runId))).map((object) => [object.key, object]));

  lease.check();
  let rows = 0;
  let reducedAgain = 0;
  await pMap(
    items,
    async (item) => {
      const source = sources.get(item.key);
      if (!source) return;
      const twin = partition + item.key.slice(featuresPrefix.length);
      const { version } = partVersion(source);
      const stagedObject = staged.get(pcaStagedPartKey(runId, item.key));
      const stagedPart = stagedObject ? await openPart(output, stagedObject) : undefined;
      let reduced: number;
      if (stagedPart && partKeyValues(stagedPart)[pcaSourceVersionKey] === version) {
        await output.copy(stagedPart.key, twin);
        reduced = Number(stagedPart.metadata.num_rows);
      } else {
        reduced = await reduceFeaturesPart(output, await openPart(output, source), twin, model, {
          rowGroupRows: options.rowGroupRows,
          metadata: { [pcaSourceVersionKey]: version },
        });
        reducedAgain++;
      }
      if (partRunId(item.key) === runId) rows += reduced;
    },
    { concurrency: options.concurrency },
  );

  lease.check();
  const removed = (await listParts(output, partition))
    .map((object) => object.key)
    .filter((key) => !sources.has(featuresPrefix + key.slice(partition.length)));
  await output.remove(removed);

  const total = Math.max(0, Date.now() - plan.startedMs);
  return {
    runId,
    modelId: plan.modelId,
    model: plan.model,
    fitted: plan.fitted,
    components: plan.components,
    varianceShare: plan.varianceShare,
    rows,
    parts: plan.parts,
    rewrittenParts: plan.rewrittenParts,
    removedParts: removed.length,
    reducedAgain,
    dataset: partition,
    millis: {
      covariance: plan.millis.covariance,
      eigen: plan.millis.eigen,
      project: Math.max(0, total - plan.millis.covariance - plan.millis.eigen),
      total,
    },
  };
}

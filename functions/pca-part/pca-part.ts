/**
 * One child of the PcaParts map: reduces one planned features part by the run's PCA model into a staged reduced
 * part (runs/<runId>/pca/parts/<name>), recording in its metadata the version of the source it read. No lease:
 * a publish may change or remove the source meanwhile, which PublishPca (under the lease) sees from that version.
 * The source is listed before it is read, so the version recorded is never newer than the bytes reduced.
 * Knows nothing of Lambda.
 */
import type { PcaPartResult, PcaPlanItem } from '../../statemachine/contracts.ts';
import { openPart, partVersion } from '../shared/dataset/feature-parts.ts';
import { ObjectReadError } from '../shared/errors.ts';
import type { PcaModel } from '../shared/pca/pca-model.ts';
import { pcaSourceVersionKey, reduceFeaturesPart } from '../shared/pca/reduce-features-part.ts';
import { intermediateTags, pcaStagedPartKey } from '../shared/run-layout.ts';
import { compareKeys, type Storage, type StoredObject } from '../shared/storage/storage.ts';

export interface PcaPartRequest {
  runId: string;
  item: PcaPlanItem;
  output: Storage;
  model: PcaModel;
  rowGroupRows: number;
}

export async function reducePlannedPart({ runId, item, output, model, rowGroupRows }: PcaPartRequest): Promise<PcaPartResult> {
  const gone: PcaPartResult = { source: item.key, staged: null, version: null, rows: 0 };
  const source = await listedObject(output, item.key);
  if (!source) return gone;
  const { version } = partVersion(source);
  const staged = pcaStagedPartKey(runId, item.key);
  try {
    const rows = await reduceFeaturesPart(output, await openPart(output, source), staged, model, {
      rowGroupRows,
      metadata: { [pcaSourceVersionKey]: version },
      tags: intermediateTags,
    });
    return { source: item.key, staged, version, rows };
  } catch (error) {
    // Removed by a publish while it was read: PublishPca, finding it gone, removes its twin.
    if (error instanceof ObjectReadError && error.notFound) return gone;
    throw error;
  }
}

/** The object at `key` as listed now, or undefined: its folder listed from just before it, one page. */
async function listedObject(storage: Storage, key: string): Promise<StoredObject | undefined> {
  const folder = key.slice(0, key.lastIndexOf('/') + 1);
  for await (const object of storage.list(folder, { startAfter: key.slice(0, -1) })) {
    if (object.key === key) return object;
    if (compareKeys(object.key, key) > 0) break;
  }
  return undefined;
}

/**
 * Where a run writes, relative to the output location (documented in the README's "Output layout"):
 *   features/part-NNNNN.parquet            the dataset: Parquet parts only
 *   runs/<runId>/failures.jsonl            one failure record per line
 *   runs/<runId>/report.json               the validation report
 *   tmp/<runId>/shards/<batchId>.arrow     one per extraction batch
 *   tmp/<runId>/map/                       the Distributed Map's ResultWriter output (manifest.json, ...)
 *   manifests/<name>.json                  the keys of an incremental run ([{ Key, Size, Etag }])
 *
 * Intermediates share one top-level prefix because S3 lifecycle filters match key prefixes only (no wildcard):
 * one rule on `<output prefix>tmp/` expires every run's shards and map results, and nothing else.
 */
import { createHash, randomBytes } from 'node:crypto';

export const featuresPrefix = 'features/';

export const runIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;

export function runPrefix(runId: string): string {
  return `runs/${runId}/`;
}

/** Everything under it is intermediate: the deployed bucket expires it (infra/, lifecycle rule). */
export const intermediatePrefix = 'tmp/';

export function intermediateRunPrefix(runId: string): string {
  return `${intermediatePrefix}${runId}/`;
}

export function shardsPrefix(runId: string): string {
  return `${intermediateRunPrefix(runId)}shards/`;
}

export function shardKey(runId: string, batchId: string): string {
  return `${shardsPrefix(runId)}${batchId}.arrow`;
}

/** Must agree with the ResultWriter's Prefix in statemachine/featurize.asl.json. */
export function mapResultsPrefix(runId: string): string {
  return `${intermediateRunPrefix(runId)}map/`;
}

export const manifestsPrefix = 'manifests/';

export function manifestKey(name: string): string {
  return `${manifestsPrefix}${name}.json`;
}

export function failuresKey(runId: string): string {
  return `${runPrefix(runId)}failures.jsonl`;
}

export function reportKey(runId: string): string {
  return `${runPrefix(runId)}report.json`;
}

/**
 * A batch's identity: derived from its keys only, so a retried batch (same keys) overwrites its shard
 * instead of adding a second one.
 */
export function batchIdOf(keys: readonly string[]): string {
  return createHash('sha256').update(keys.join('\n')).digest('hex').slice(0, 24);
}

/** Sortable and unique: `20261125T151040Z-3f9a1c`. */
export function newRunId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

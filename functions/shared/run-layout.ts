/**
 * Where a run writes, relative to the output location (documented in the README's "Output layout"):
 *   features/part-<runId>-NNNNN.parquet    the dataset: Parquet parts only, named after the run that wrote them,
 *                                          each a copy of a staged part, published once the run passed validation
 *   features-pca/pca_model=<modelId>/part-<runId>-NNNNN.parquet
 *                                          the same rows reduced by one PCA model (one partition per model)
 *   pca/<modelId>/model.json               a fitted PCA model; its id is the id of the run that fitted it
 *   runs/<runId>/shards/<batchId>.arrow    one per extraction batch (intermediate: tagged, expired by lifecycle)
 *   runs/<runId>/map/                      the Distributed Map's ResultWriter output (manifest.json, ...)
 *   runs/<runId>/parts/part-<runId>-NNNNN.parquet
 *                                          the run's parts as the reducer wrote them and the validator audited them
 *                                          (intermediate: tagged, expired by lifecycle, published or not)
 *   runs/<runId>/failures.jsonl            one failure record per line
 *   runs/<runId>/reduce/                   the reduce fan-out's work (intermediate): plan.json (the groups of
 *                                          shards, one per part, the ReduceParts map's items), batch-failures.jsonl
 *                                          (items of failed batches), stats/NNNNN.json and failures/NNNNN.jsonl
 *                                          (each group's counts and failure records), audits/NNNNN.json (each
 *                                          group's audit: its part read back, its range of the input listed),
 *                                          moments/NNNNN.bin (each part's scatter moments, when the run fits PCA),
 *                                          map/ (the map's results)
 *   runs/<runId>/pca/                      the PCA fan-out's work (intermediate): plan.json (the parts to reduce,
 *                                          the PcaParts map's items), parts/part-….parquet (reduced parts staged
 *                                          before PublishPca copies them into the partition), map/ (the map's results)
 *   runs/<runId>/report.json               the validation report
 *   runs/<runId>/report.html               the run's report for people: counts, failures, PCA plots
 *   runs/<runId>/rewrites/part-….parquet   parts the run's publish wrote anew: older parts without the rows it
 *                                          replaces, its own parts without rows a newer run published (intermediate)
 *   runs/<runId>/publish.json              what the run's publish did to features/ (its commit record)
 *   publish-journal.json                   the publish under way: written before its first change to features/,
 *                                          removed after its last; one left behind is finished by the next publish
 *   publish.lock                           the lease on the dataset (local outputs; deployed: a DynamoDB table)
 *   index.lock                             the lease on the index (likewise)
 *   manifests/<name>.json                  the keys of an incremental run ([{ Key, Size, Etag }])
 *   index/                                 the nearest-neighbour index of features/ (a LanceDB database) and
 *   index/featurize-index.json             what it holds: the model and the part versions it was built from
 */
import { createHash, randomBytes } from 'node:crypto';

export const featuresPrefix = 'features/';

const runIdSyntax = '[A-Za-z0-9][A-Za-z0-9._-]{0,79}';
export const runIdPattern = new RegExp(`^${runIdSyntax}$`);

const partNamePattern = new RegExp(`^part-(${runIdSyntax})-\\d{5,}\\.parquet$`);

/**
 * A run's `index`th part in a dataset folder (features/ by default, or the run's staging folder): deterministic,
 * so a retried reducer overwrites its parts instead of adding more.
 */
export function partKey(runId: string, index: number, folder = featuresPrefix): string {
  return `${folder}part-${runId}-${String(index).padStart(5, '0')}.parquet`;
}

/**
 * The run that wrote a part, from its key: a part of `features/`, or of another dataset folder (a partition
 * of features-pca/); undefined for a key that is not a part directly in that folder.
 */
export function partRunId(key: string, folder = featuresPrefix): string | undefined {
  return key.startsWith(folder) ? partNamePattern.exec(key.slice(folder.length))?.[1] : undefined;
}

/** Fitted PCA models, one folder each. */
export const pcaModelsPrefix = 'pca/';

export function pcaModelKey(modelId: string): string {
  return `${pcaModelsPrefix}${modelId}/model.json`;
}

/** The reduced datasets, one partition per PCA model. */
export const pcaPartitionsPrefix = 'features-pca/';

/**
 * Vectors reduced by one model, in a Hive-style partition: two models' axes are unrelated, and the
 * `pca_model` column that pyarrow, DuckDB, Spark and Athena derive from the folder name keeps them apart.
 */
export function pcaPartitionPrefix(modelId: string): string {
  return `${pcaPartitionsPrefix}pca_model=${modelId}/`;
}

/** Every run's folder is under it: its reports, failure records, and its intermediates (shards, staged parts). */
export const runsPrefix = 'runs/';

export function runPrefix(runId: string): string {
  return `${runsPrefix}${runId}/`;
}

/**
 * Write, audit, publish: the reducer writes a run's parts here, the validator audits them here, and only a run
 * that passed has them copied to features/ (functions/publish), so a failed run never changes the dataset.
 */
export function stagedPartsPrefix(runId: string): string {
  return `${runPrefix(runId)}parts/`;
}

/** Where publishing puts a staged part: features/, under the same name. */
export function publishedPartKey(stagedKey: string): string {
  return featuresPrefix + stagedKey.slice(stagedKey.lastIndexOf('/') + 1);
}

/** Parts the run's publish writes anew before copying them into features/ (see functions/publish). */
export function rewritesPrefix(runId: string): string {
  return `${runPrefix(runId)}rewrites/`;
}

/** The commit record of a run's publish: present once its changes to features/ are all made. */
export function publishRecordKey(runId: string): string {
  return `${runPrefix(runId)}publish.json`;
}

/** The lease on a local output's dataset (deployed outputs keep theirs in a DynamoDB table). */
export const publishLockKey = 'publish.lock';

/** The lease on a local output's index: index updates take turns, without keeping publishes waiting. */
export const indexLockKey = 'index.lock';

/** The LanceDB database indexing features/ for nearest-neighbour search. */
export const indexPrefix = 'index/';

/** What the index holds (written after each update): which model, which versions of which parts. */
export const indexManifestKey = `${indexPrefix}featurize-index.json`;

/** The publish under way on this output (at most one: publishes hold the output's lease). */
export const publishJournalKey = 'publish-journal.json';

/**
 * A half-written copy the filesystem storage leaves beside its target when its process dies mid-write
 * (`<name>.<pid>.<random>.partial`, fs-storage.ts): the pipeline's own debris, safe to remove.
 */
export function isPartialWrite(key: string): boolean {
  return /\.\d+\.[a-z0-9]+\.partial$/.test(key);
}

export function shardsPrefix(runId: string): string {
  return `${runPrefix(runId)}shards/`;
}

/**
 * S3 tags on intermediate objects. Lifecycle filters match a literal key prefix and tags, never a wildcard
 * like runs/<any run>/shards/, so the deployed bucket expires `runs/` objects carrying this tag (infra/): shards
 * and staged parts. Writing them needs s3:PutObjectTagging besides s3:PutObject.
 */
export const intermediateTags: Readonly<Record<string, string>> = { 'featurize:intermediate': 'true' };

export function shardKey(runId: string, batchId: string): string {
  return `${shardsPrefix(runId)}${batchId}.arrow`;
}

export function mapResultsPrefix(runId: string): string {
  return `${runPrefix(runId)}map/`;
}

/** The reduce fan-out's plan, counts and failure records (functions/plan-reduce, reduce-part, finish-reduce). */
export function reducePrefix(runId: string): string {
  return `${runPrefix(runId)}reduce/`;
}

export function reducePlanKey(runId: string): string {
  return `${reducePrefix(runId)}plan.json`;
}

/** The failure records of the map's failed and never-run batches, which no shard holds. */
export function batchFailuresKey(runId: string): string {
  return `${reducePrefix(runId)}batch-failures.jsonl`;
}

export function reduceStatsPrefix(runId: string): string {
  return `${reducePrefix(runId)}stats/`;
}

/** Numbered like parts, so that a listing returns them in group order. */
export function reduceStatsKey(runId: string, index: number): string {
  return `${reduceStatsPrefix(runId)}${String(index).padStart(5, '0')}.json`;
}

/** Each group's audit (functions/audit-part): what Validate sums. */
export function partAuditsPrefix(runId: string): string {
  return `${reducePrefix(runId)}audits/`;
}

export function partAuditKey(runId: string, index: number): string {
  return `${partAuditsPrefix(runId)}${String(index).padStart(5, '0')}.json`;
}

/** Each part's scatter moments (functions/shared/pca/scatter-accumulator.ts), which the PCA fit merges. */
export function partMomentsPrefix(runId: string): string {
  return `${reducePrefix(runId)}moments/`;
}

export function partMomentsKey(runId: string, index: number): string {
  return `${partMomentsPrefix(runId)}${String(index).padStart(5, '0')}.bin`;
}

/** The group index a moments key names, or undefined for another key. */
export function partMomentsIndex(runId: string, key: string): number | undefined {
  return groupIndexOf(partMomentsPrefix(runId), '.bin', key);
}

/** Each part's share of the report's sample of the run's vectors (functions/shared/dataset/row-sample.ts). */
export function rowSamplesPrefix(runId: string): string {
  return `${reducePrefix(runId)}samples/`;
}

export function rowSampleKey(runId: string, index: number): string {
  return `${rowSamplesPrefix(runId)}${String(index).padStart(5, '0')}.arrow`;
}

/** The group index a sample key names, or undefined for another key. */
export function rowSampleIndex(runId: string, key: string): number | undefined {
  return groupIndexOf(rowSamplesPrefix(runId), '.arrow', key);
}

function groupIndexOf(prefix: string, extension: string, key: string): number | undefined {
  const name = key.startsWith(prefix) ? key.slice(prefix.length) : '';
  return /^\d{5,}$/.test(name.slice(0, -extension.length)) && name.endsWith(extension)
    ? Number(name.slice(0, -extension.length))
    : undefined;
}

/** The PCA fan-out of a run (functions/pca, pca-part, publish-pca). */
export function pcaRunPrefix(runId: string): string {
  return `${runPrefix(runId)}pca/`;
}

/** The parts the PcaParts map reduces, one item each (a JSON array). */
export function pcaPlanKey(runId: string): string {
  return `${pcaRunPrefix(runId)}plan.json`;
}

/** Reduced parts as PcaPart writes them, before PublishPca copies them into the model's partition. */
export function pcaStagedPartsPrefix(runId: string): string {
  return `${pcaRunPrefix(runId)}parts/`;
}

/** Where PcaPart stages the reduction of a features part: under the part's own name. */
export function pcaStagedPartKey(runId: string, featuresKey: string): string {
  return pcaStagedPartsPrefix(runId) + featuresKey.slice(featuresKey.lastIndexOf('/') + 1);
}

/** The PcaParts map's ResultWriter output. */
export function pcaMapResultsPrefix(runId: string): string {
  return `${pcaRunPrefix(runId)}map/`;
}

export function groupFailuresPrefix(runId: string): string {
  return `${reducePrefix(runId)}failures/`;
}

export function groupFailuresKey(runId: string, index: number): string {
  return `${groupFailuresPrefix(runId)}${String(index).padStart(5, '0')}.jsonl`;
}

/** The ReduceParts map's ResultWriter output. */
export function reduceMapResultsPrefix(runId: string): string {
  return `${reducePrefix(runId)}map/`;
}

export function failuresKey(runId: string): string {
  return `${runPrefix(runId)}failures.jsonl`;
}

export function reportKey(runId: string): string {
  return `${runPrefix(runId)}report.json`;
}

export function reportHtmlKey(runId: string): string {
  return `${runPrefix(runId)}report.html`;
}

/**
 * A batch's identity: derived from its keys only, so a retried batch (same keys) overwrites its shard
 * instead of adding a second one.
 */
export function batchIdOf(keys: readonly string[]): string {
  return createHash('sha256').update(keys.join('\n')).digest('hex').slice(0, 24);
}

export const manifestsPrefix = 'manifests/';

/** Where the upload trigger writes the keys of an incremental run (the ASL's manifest ItemReader reads it). */
export function manifestKey(name: string): string {
  return `${manifestsPrefix}${name}.json`;
}

/** Sortable and unique: `20261125T151040Z-3f9a1c`. */
export function newRunId(now: Date = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

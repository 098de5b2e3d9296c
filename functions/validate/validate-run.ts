/**
 * Audits a run before it is published (write, audit, publish), independently of the code that wrote it, and
 * writes `runs/<runId>/report.json`. Knows nothing of Lambda.
 *
 * What is audited: the run's staged parts (runs/<runId>/parts/), each read back by its own ReduceParts child
 * (functions/audit-part: hyparquet reads what parquet-wasm wrote, one row group at a time), whose audits this sums;
 * its accounting against the inputs, listed anew (the children list a range of keys each; an incremental run's
 * manifest is read here), not taken from the map's results; that it found inputs and made vectors at all; that
 * every row lies within what the run covers (its scope). What the run does to the dataset (rows it replaces, one
 * model) is worked out by the publisher under the output's lease, against features/ as it is then. Nothing under
 * features/ has changed yet, so a run that fails leaves the dataset as it was.
 *
 * Memory holds the audits' sums (counts, a few examples, digests per folder), never a run's rows or paths: the
 * accounting compares counts and order-independent hashes of paths (path-digest.ts) of the inputs and of the rows
 * and failure records (failures.jsonl, streamed), and names the paths that differ from the few folders whose
 * digests differ. Duplicates are found within each part by its audit, and across the parts whose ranges of paths
 * overlap (none, when the reducer cut parts in key order) by reading those parts again together.
 */
import { pMapIterable } from 'p-map';
import {
  type Counts,
  type PartAudit,
  partAuditSchema,
  type ReduceResult,
  type RunScope,
  type StepError,
  type ValidationResult,
} from '../../statemachine/contracts.ts';
import { type RowCheck, rowChecks, type VectorShape } from '../audit-part/audit-part.ts';
import { listParts, openPart, partMetadataKeys, readPartRowGroups } from '../shared/dataset/feature-parts.ts';
import { narrowDown, PathDigests, type PathSource } from '../shared/dataset/path-digest.ts';
import { Tally } from '../shared/dataset/tally.ts';
import { RunArtifactError } from '../shared/errors.ts';
import { type FailureCode, failureKinds, isSystemic } from '../shared/failures.ts';
import { failureRecords } from '../shared/failures-file.ts';
import { parseJsonDocument } from '../shared/json-document.ts';
import { partAuditKey, reportKey, stagedPartsPrefix } from '../shared/run-layout.ts';
import { readIfPresent, type Storage, type StoredObject } from '../shared/storage/storage.ts';

export interface ValidateRequest {
  runId: string;
  output: Storage;
  scope: RunScope;
  /** Locations of what the run was asked to process, found without the map (listed-inputs.ts), streamed anew on each call. */
  listInputs: PathSource;
  /** The ReduceParts children listed the input (a prefix) between them; false: the inputs are a manifest, read here. */
  listedByParts: boolean;
  mapError: StepError | null;
  toleratedFailurePercentage: number;
  reduce: Pick<ReduceResult, 'parts' | 'rows' | 'failures' | 'modelId' | 'engine' | 'groups'>;
}

export interface Check {
  name: string;
  passed: boolean;
  detail: string;
}

export interface ValidationReport {
  runId: string;
  passed: boolean;
  /** What the run covers: the rows of the dataset its publish replaces. */
  scope: RunScope;
  createdAt: string;
  modelId: string | null;
  engine: string | null;
  preprocessing: string | null;
  counts: Counts;
  /** Rows of this run per label. */
  labels: Record<string, number>;
  failureCodes: Partial<Record<FailureCode, { count: number; examples: string[] }>>;
  /** The staged parts audited (runs/<runId>/parts/), keys relative to the output location: what Publish copies. */
  parts: string[];
  checks: Check[];
}

const maxSummaryLength = 2000;
const noneFound = { count: 0, examples: [] };
/** Audits read ahead while earlier ones are summed: each is one small GET. */
const auditReadConcurrency = 16;

export async function validateRun(request: ValidateRequest, shape: VectorShape, now = new Date()): Promise<ValidationResult> {
  const started = performance.now();
  const { runId, output } = request;
  const runParts = await listParts(output, stagedPartsPrefix(runId));
  const audits = await sumAudits(output, runId, request.reduce.groups);
  const duplicates = await runDuplicates(output, audits.bounds);
  const records = await scanFailureRecords(output, runId, audits.placed);
  let listed = audits.listed;
  if (!request.listedByParts || request.reduce.groups === 0) {
    // A manifest's keys, or a run with no group to list its ranges (no batch succeeded): listed here.
    listed = new PathDigests();
    for await (const path of request.listInputs()) listed.add(path);
  }

  const modelId = audits.metadata?.[partMetadataKeys.modelId] ?? request.reduce.modelId;
  const counts: Counts = {
    listed: listed.total.count,
    rows: audits.rows,
    skipped: records.skipped,
    failures: records.count - records.skipped,
  };
  const tallies = audits.tallies;
  const checks: Check[] = [
    mapCheck(request.mapError),
    inputsCheck(request, counts),
    partsCheck(request, runParts, audits, records.count),
    tallyCheck('schema', tallies.schema, `${runParts.length} parts have the dataset's columns and types`, 'parts with the wrong columns'),
    tallyCheck(
      'vector-length',
      tallies['vector-length'],
      `every vector has ${shape.featureLength} values`,
      `vectors without ${shape.featureLength} values`,
    ),
    tallyCheck('finite', tallies.finite, 'every value is a finite float32', 'vectors with NaN or infinite values'),
    tallyCheck(
      'range',
      tallies.range,
      `every value is within [${shape.featureRange.join(', ')}]`,
      `vectors with values outside [${shape.featureRange.join(', ')}]`,
    ),
    tallyCheck(
      'non-zero',
      tallies['non-zero'],
      'no vector is all zeros',
      'all-zero vectors (the model never gives one, even for a blank image)',
    ),
    tallyCheck('labels', tallies.labels, "every label is its image's folder name", "rows whose label is empty or not the image's folder"),
    tallyCheck('scope', tallies.scope, `every row lies within ${scopeText(request.scope)}`, `rows outside ${scopeText(request.scope)}`),
    await accountingCheck(request, listed, audits.placed, audits.bounds),
    tallyCheck('duplicates', duplicates, "no path appears twice among the run's rows", 'paths with more than one row in this run'),
    failureShareCheck(counts, records.systemic, request.toleratedFailurePercentage),
  ];

  const report: ValidationReport = {
    runId,
    passed: checks.every((check) => check.passed),
    scope: request.scope,
    createdAt: now.toISOString(),
    modelId,
    engine: audits.metadata?.[partMetadataKeys.engine] ?? request.reduce.engine,
    preprocessing: audits.metadata?.[partMetadataKeys.preprocessing] ?? null,
    counts,
    labels: Object.fromEntries([...audits.labels].sort(([a], [b]) => (a < b ? -1 : 1))),
    failureCodes: records.byCode,
    parts: runParts.map((object) => object.key),
    checks,
  };
  await output.write(reportKey(runId), `${JSON.stringify(report, null, 2)}\n`);
  const millis = Math.round(performance.now() - started);
  return { passed: report.passed, summary: summarize(checks, counts), report: reportKey(runId), counts, millis };
}

/** A part as its audit read it: where its paths lie (not as its metadata says), to find parts that may share one. */
interface PartBounds {
  object: StoredObject;
  min: string;
  max: string;
  /** Paths with more than one row in this part. */
  duplicates: PartAudit['tallies'][string];
}

/** The groups' audits summed. */
interface AuditSums {
  rows: number;
  labels: Map<string, number>;
  /** Key-value metadata of the run's first part. */
  metadata: Record<string, string> | null;
  tallies: Record<RowCheck, Tally>;
  placed: PathDigests;
  listed: PathDigests;
  bounds: PartBounds[];
  /** The parts audited, as they were read: key, size and ETag. */
  audited: NonNullable<PartAudit['part']>[];
  /** Groups without an audit. */
  missing: number[];
}

/** Reads the audits of groups 0 … groups - 1 (a few ahead of the one being summed) and sums them in group order. */
async function sumAudits(output: Storage, runId: string, groups: number): Promise<AuditSums> {
  const sums: AuditSums = {
    rows: 0,
    labels: new Map(),
    metadata: null,
    tallies: Object.fromEntries(rowChecks.map((check) => [check, new Tally()])) as Record<RowCheck, Tally>,
    placed: new PathDigests(),
    listed: new PathDigests(),
    bounds: [],
    audited: [],
    missing: [],
  };
  const read = async (index: number) => {
    const key = partAuditKey(runId, index);
    const bytes = await readIfPresent(output, key);
    if (bytes === undefined) return { index, audit: undefined };
    const where = output.locationOf(key);
    const audit = parseJsonDocument(partAuditSchema, bytes, where, { expected: "a reduce group's audit", error: RunArtifactError });
    if (audit.runId !== runId || audit.index !== index)
      throw new RunArtifactError(`${where} is the audit of ${audit.runId} group ${audit.index}`);
    return { index, audit };
  };
  const indexes = Array.from({ length: groups }, (_, index) => index);
  for await (const { index, audit } of pMapIterable(indexes, read, { concurrency: auditReadConcurrency })) {
    if (audit) addAudit(sums, audit);
    else sums.missing.push(index);
  }
  return sums;
}

function addAudit(sums: AuditSums, audit: PartAudit): void {
  sums.rows += audit.rows;
  for (const [label, rows] of Object.entries(audit.labels)) sums.labels.set(label, (sums.labels.get(label) ?? 0) + rows);
  // The first part's metadata: parts of one run share it (PlanReduce refuses a run mixing models).
  sums.metadata ??= audit.metadata;
  // Duplicates within a part are counted with those across parts (runDuplicates).
  for (const check of rowChecks) if (check !== 'duplicates') sums.tallies[check].merge(audit.tallies[check] ?? noneFound);
  sums.placed.merge(PathDigests.fromJSON(audit.placed));
  if (audit.listed) sums.listed.merge(PathDigests.fromJSON(audit.listed));
  if (audit.part) {
    sums.audited.push(audit.part);
    if (audit.bounds) {
      const object = { key: audit.part.key, size: audit.part.size };
      sums.bounds.push({ object, ...audit.bounds, duplicates: audit.tallies.duplicates ?? noneFound });
    }
  }
}

/**
 * Paths with more than one row in the run: within a part (found while scanning it), and across parts whose ranges
 * of paths overlap, read again together (a cluster of overlapping parts; parts cut in key order never overlap).
 */
async function runDuplicates(output: Storage, bounds: readonly PartBounds[]): Promise<Tally> {
  const duplicates = new Tally();
  const byStart = [...bounds].sort((a, b) => (a.min < b.min ? -1 : a.min > b.min ? 1 : 0));
  let cluster: PartBounds[] = [];
  let clusterMax = '';
  const close = async () => {
    if (cluster.length === 1) duplicates.merge(cluster[0]!.duplicates);
    if (cluster.length > 1) {
      const paths = new Map<string, number>();
      for (const part of cluster) for await (const path of partPaths(output, part.object)) paths.set(path, (paths.get(path) ?? 0) + 1);
      for (const [path, rows] of paths) if (rows > 1) duplicates.add(`${path} (${rows} times)`);
    }
  };
  for (const part of byStart) {
    if (cluster.length > 0 && part.min > clusterMax) {
      await close();
      cluster = [];
    }
    cluster.push(part);
    if (cluster.length === 1 || part.max > clusterMax) clusterMax = part.max;
  }
  await close();
  return duplicates;
}

/** A staged part's paths, a row group at a time. */
async function* partPaths(output: Storage, object: StoredObject): AsyncGenerator<string> {
  const part = await openPart(output, object);
  for await (const rows of readPartRowGroups(part, ['path'])) for (const row of rows) yield row.path as string;
}

interface FailureScan {
  count: number;
  skipped: number;
  systemic: number;
  byCode: ValidationReport['failureCodes'];
}

/** failures.jsonl streamed: its counts, its records by code (a count and a few paths each), and its paths into `placed`. */
async function scanFailureRecords(output: Storage, runId: string, placed: PathDigests): Promise<FailureScan> {
  const scan: FailureScan = { count: 0, skipped: 0, systemic: 0, byCode: {} };
  const byCode: Partial<Record<FailureCode, Tally>> = {};
  for await (const record of failureRecords(output, runId)) {
    scan.count++;
    if (failureKinds[record.code] === 'skipped') scan.skipped++;
    if (isSystemic(record)) scan.systemic++;
    (byCode[record.code] ??= new Tally()).add(record.path);
    placed.add(record.path);
  }
  scan.byCode = byCode;
  return scan;
}

function mapCheck(mapError: ValidateRequest['mapError']): Check {
  if (mapError === null) return { name: 'map', passed: true, detail: 'the map completed' };
  const cause = [mapError.Error, mapError.Cause].filter(Boolean).join(': ');
  return { name: 'map', passed: false, detail: `the map failed, so the run is not published: ${cause.slice(0, 500)}` };
}

/**
 * The staging folder holds exactly the parts the reducer wrote, each audited as it is now (same size and ETag), and
 * the audits and failures.jsonl hold what the reducer reported.
 */
function partsCheck(request: ValidateRequest, runParts: readonly StoredObject[], audits: AuditSums, failures: number): Check {
  const found = runParts.map((object) => object.key).sort();
  const written = [...request.reduce.parts].sort();
  const audited = new Map(audits.audited.map((part) => [part.key, part]));
  const unaudited = runParts.filter((object) => !audited.has(object.key)).map((object) => object.key);
  const changed = runParts
    .filter((object) => {
      const part = audited.get(object.key);
      return part !== undefined && (part.size !== object.size || (part.etag ?? null) !== (object.etag ?? null));
    })
    .map((object) => object.key);
  const problems = [
    found.join() !== written.join()
      ? `the run's staging folder holds [${found.join(', ')}], the reducer wrote [${written.join(', ')}]`
      : '',
    audits.missing.length > 0 ? `reduce groups without an audit: ${audits.missing.slice(0, 10).join(', ')}` : '',
    unaudited.length > 0 ? `parts no audit read: ${unaudited.slice(0, 10).join(', ')}` : '',
    changed.length > 0 ? `parts changed since their audit read them: ${changed.slice(0, 10).join(', ')}` : '',
    audits.rows !== request.reduce.rows ? `the parts hold ${audits.rows} rows, the reducer wrote ${request.reduce.rows}` : '',
    failures !== request.reduce.failures ? `failures.jsonl holds ${failures} records, the reducer wrote ${request.reduce.failures}` : '',
  ].filter(Boolean);
  return problems.length === 0
    ? { name: 'parts', passed: true, detail: `${found.length} parts with ${audits.rows} rows, as the reducer reported, each audited` }
    : { name: 'parts', passed: false, detail: problems.join('; ') };
}

function tallyCheck(name: string, tally: Tally, passed: string, failed: string): Check {
  return tally.count === 0 ? { name, passed: true, detail: passed } : { name, passed: false, detail: tally.describe(failed) };
}

/**
 * Every listed input in exactly one place: a row of this run's parts, or a failure record. The digests of the two
 * sides are compared per folder; only when they differ are the paths of the differing folders' shares read again,
 * held and compared, to name them.
 */
async function accountingCheck(
  request: ValidateRequest,
  listed: PathDigests,
  placed: PathDigests,
  readParts: readonly PartBounds[],
): Promise<Check> {
  const source = request.scope.kind === 'incremental' ? 'the manifest' : scopeText(request.scope);
  const differing = listed.differingGroups(placed);
  if (differing.size === 0) {
    return { name: 'accounting', passed: true, detail: `each of the ${listed.total.count} inputs of ${source} is in exactly one place` };
  }
  const placedPaths = async function* () {
    for (const part of readParts) yield* partPaths(request.output, part.object);
    for await (const record of failureRecords(request.output, request.runId)) yield record.path;
  };
  const held = await narrowDown(request.listInputs, placedPaths, differing);
  const missing = new Tally();
  const unexpected = new Tally();
  const twice = new Tally();
  for (const path of held.expected) if (!held.placed.has(path)) missing.add(path);
  for (const [path, places] of held.placed) {
    if (!held.expected.has(path)) unexpected.add(path);
    if (places > 1) twice.add(path);
  }
  const problems = [
    missing.count ? missing.describe(`inputs of ${source} neither in the dataset nor in failures.jsonl`) : '',
    unexpected.count ? unexpected.describe(`rows or failures not among the inputs of ${source}`) : '',
    twice.count ? twice.describe('inputs in more than one place') : '',
  ].filter(Boolean);
  // Digests that differ with no path to name: the inputs changed between two listings of them.
  if (problems.length === 0) problems.push(`the inputs of ${source} changed while they were being counted`);
  return { name: 'accounting', passed: false, detail: problems.join('; ') };
}

/**
 * The tolerance guards against the pipeline failing (reads, batches), not against bad files: a corrupt or empty
 * image is recorded and reported, and never keeps the run's good images out of the dataset.
 */
function failureShareCheck(counts: Counts, systemic: number, tolerated: number): Check {
  const share = counts.listed === 0 ? 0 : (100 * systemic) / counts.listed;
  const detail =
    `${systemic} of ${counts.listed} inputs failed in the pipeline (unreadable, failed batches: ${share.toFixed(2)} %, tolerated ${tolerated} %); ` +
    `bad files (${counts.failures - systemic}) and skipped ones (${counts.skipped}) are recorded, not counted`;
  return { name: 'failure-share', passed: share <= tolerated, detail };
}

/** A run that found nothing to read, or made no vector, publishes nothing: most often a mistyped input. */
function inputsCheck(request: ValidateRequest, counts: Counts): Check {
  const where = request.scope.kind === 'incremental' ? 'in the manifest' : `under ${request.scope.prefix}`;
  if (counts.listed === 0) return { name: 'inputs', passed: false, detail: `no images ${where}: nothing to publish` };
  if (counts.listed === counts.skipped) {
    return {
      name: 'inputs',
      passed: false,
      detail: `no images ${where}: only ${counts.skipped} hidden file(s) or folder marker(s), skipped`,
    };
  }
  if (counts.rows === 0) {
    return {
      name: 'inputs',
      passed: false,
      detail: `none of the ${counts.listed - counts.skipped} images ${where} gave a vector: nothing to publish`,
    };
  }
  return { name: 'inputs', passed: true, detail: `${counts.listed} inputs ${where}, ${counts.rows} vectors` };
}

function scopeText(scope: RunScope): string {
  return scope.kind === 'incremental' ? "the run's manifest" : scope.prefix;
}

function summarize(checks: readonly Check[], counts: Counts): string {
  const failed = checks.filter((check) => !check.passed);
  const summary =
    failed.length === 0
      ? `all ${checks.length} checks passed: ${counts.rows} rows, ${counts.failures} failures, ${counts.skipped} skipped of ${counts.listed} inputs`
      : `${failed.length} of ${checks.length} checks failed: ${failed.map((check) => `${check.name} (${check.detail})`).join('; ')}`;
  return summary.length > maxSummaryLength ? `${summary.slice(0, maxSummaryLength - 1)}…` : summary;
}

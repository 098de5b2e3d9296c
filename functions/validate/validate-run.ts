/**
 * Audits a run before it is published (write, audit, publish), independently of the code that wrote it, and
 * writes `runs/<runId>/report.json`. Knows nothing of Lambda.
 *
 * What is audited: the run's staged parts (runs/<runId>/parts/), read back with hyparquet (the reducer writes
 * with parquet-wasm) one row group at a time; its accounting against the inputs, listed anew by the caller, not
 * taken from the map's results; that it found inputs and made vectors at all; that every row lies within what
 * the run covers (its scope). What the run does to the dataset (rows it replaces, one model) is worked out by the
 * publisher under the output's lease, against features/ as it is then. Nothing under features/ has changed yet,
 * so a run that fails leaves the dataset as it was. Memory holds one row group and the paths of one part, never the
 * run's: the accounting compares counts and order-independent hashes of paths (path-digest.ts) of the inputs,
 * streamed from their listing, and of the rows and failure records, streamed from the parts and failures.jsonl,
 * and names the paths that differ from the few folders whose digests differ. Duplicates are found within each
 * part, and across the parts whose ranges of paths overlap (none, when the reducer cut parts in key order).
 *
 * A zero vector fails even for a blank image: measured with the default MobileNetV2, uniform black, white,
 * grey and primary-colour images give 340 to 575 non-zero features of 1280, so an all-zero row is a lost
 * vector (a zero-filled buffer), never a picture, and re-reading the source could not excuse it.
 */
import { parquetSchema, type SchemaTree } from 'hyparquet';
import type { Counts, ReduceResult, RunScope, StepError, ValidationResult } from '../../statemachine/contracts.ts';
import { listParts, openPart, type PartFile, partKeyValues, partMetadataKeys, readPartRowGroups } from '../shared/dataset/feature-parts.ts';
import { narrowDown, PathDigests, type PathSource } from '../shared/dataset/path-digest.ts';
import { inPrefix } from '../shared/dataset/run-scope.ts';
import { type FailureCode, failureKinds, isSystemic } from '../shared/failures.ts';
import { failureRecords } from '../shared/failures-file.ts';
import type { ModelDescriptor } from '../shared/model/model-descriptor.ts';
import { reportKey, stagedPartsPrefix } from '../shared/run-layout.ts';
import { parentFolderName, type Storage, type StoredObject } from '../shared/storage/storage.ts';

export type VectorShape = Pick<ModelDescriptor, 'featureLength' | 'featureRange'>;

export interface ValidateRequest {
  runId: string;
  output: Storage;
  scope: RunScope;
  /** Locations of what the run was asked to process, found without the map (listed-inputs.ts), streamed anew on each call. */
  listInputs: PathSource;
  mapError: StepError | null;
  toleratedFailurePercentage: number;
  reduce: Pick<ReduceResult, 'parts' | 'rows' | 'failures' | 'modelId' | 'engine'>;
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

const exampleCount = 3;
const maxSummaryLength = 2000;

/** Columns as Parquet types: strings are UTF8 byte arrays, features a LIST of FLOAT (float32). */
const expectedColumns: Record<string, string> = {
  path: 'STRING',
  label: 'STRING',
  size: 'INT64',
  etag: 'STRING',
  sha256: 'STRING',
  features: 'LIST<FLOAT>',
};

export async function validateRun(request: ValidateRequest, shape: VectorShape, now = new Date()): Promise<ValidationResult> {
  const started = performance.now();
  const { runId, output } = request;
  const runParts = await listParts(output, stagedPartsPrefix(runId));
  const placed = new PathDigests();
  const scan = await scanRunParts(output, runParts, shape, request.scope, placed);
  const duplicates = await runDuplicates(output, scan.bounds);
  const records = await scanFailureRecords(output, runId, placed);
  const listed = new PathDigests();
  for await (const path of request.listInputs()) listed.add(path);

  const modelId = scan.metadata?.[partMetadataKeys.modelId] ?? request.reduce.modelId;
  const counts: Counts = {
    listed: listed.total.count,
    rows: scan.rows,
    skipped: records.skipped,
    failures: records.count - records.skipped,
  };
  const checks: Check[] = [
    mapCheck(request.mapError),
    inputsCheck(request, counts),
    partsCheck(request, runParts, scan.rows, records.count),
    tallyCheck('schema', scan.schema, `${runParts.length} parts have the dataset's columns and types`, 'parts with the wrong columns'),
    tallyCheck(
      'vector-length',
      scan.length,
      `every vector has ${shape.featureLength} values`,
      `vectors without ${shape.featureLength} values`,
    ),
    tallyCheck('finite', scan.nonFinite, 'every value is a finite float32', 'vectors with NaN or infinite values'),
    tallyCheck(
      'range',
      scan.outOfRange,
      `every value is within [${shape.featureRange.join(', ')}]`,
      `vectors with values outside [${shape.featureRange.join(', ')}]`,
    ),
    tallyCheck('non-zero', scan.zero, 'no vector is all zeros', 'all-zero vectors (the model never gives one, even for a blank image)'),
    tallyCheck('labels', scan.badLabel, "every label is its image's folder name", "rows whose label is empty or not the image's folder"),
    tallyCheck('scope', scan.outOfScope, `every row lies within ${scopeText(request.scope)}`, `rows outside ${scopeText(request.scope)}`),
    await accountingCheck(request, listed, placed, scan.bounds),
    tallyCheck('duplicates', duplicates, "no path appears twice among the run's rows", 'paths with more than one row in this run'),
    failureShareCheck(counts, records.systemic, request.toleratedFailurePercentage),
  ];

  const report: ValidationReport = {
    runId,
    passed: checks.every((check) => check.passed),
    scope: request.scope,
    createdAt: now.toISOString(),
    modelId,
    engine: scan.metadata?.[partMetadataKeys.engine] ?? request.reduce.engine,
    preprocessing: scan.metadata?.[partMetadataKeys.preprocessing] ?? null,
    counts,
    labels: Object.fromEntries([...scan.labels].sort(([a], [b]) => (a < b ? -1 : 1))),
    failureCodes: records.byCode,
    parts: runParts.map((object) => object.key),
    checks,
  };
  await output.write(reportKey(runId), `${JSON.stringify(report, null, 2)}\n`);
  const millis = Math.round(performance.now() - started);
  return { passed: report.passed, summary: summarize(checks, counts), report: reportKey(runId), counts, millis };
}

/** A count of offending rows (or parts) and the first few of them, to name in the report. */
class Tally {
  count = 0;
  readonly examples: string[] = [];

  add(example: string): void {
    this.count++;
    if (this.examples.length < exampleCount) this.examples.push(example);
  }

  describe(what: string): string {
    return `${this.count} ${what}, e.g. ${this.examples.join(', ')}`;
  }
}

/**
 * A readable part and the least and greatest of its paths, as read (not as its metadata says). Any one order
 * serves to tell parts that cannot share a path, so JavaScript's string order does, without encoding each path.
 */
interface PartBounds {
  object: StoredObject;
  min: string;
  max: string;
  /** Paths with more than one row in this part, and how many. */
  duplicates: Map<string, number>;
}

interface RunScan {
  rows: number;
  bounds: PartBounds[];
  labels: Map<string, number>;
  /** Key-value metadata of the run's first part. */
  metadata: Record<string, string> | undefined;
  schema: Tally;
  length: Tally;
  nonFinite: Tally;
  outOfRange: Tally;
  zero: Tally;
  badLabel: Tally;
  outOfScope: Tally;
}

async function scanRunParts(
  output: Storage,
  parts: readonly StoredObject[],
  shape: VectorShape,
  scope: RunScope,
  placed: PathDigests,
): Promise<RunScan> {
  const scan: RunScan = {
    rows: 0,
    bounds: [],
    labels: new Map(),
    metadata: undefined,
    schema: new Tally(),
    length: new Tally(),
    nonFinite: new Tally(),
    outOfRange: new Tally(),
    zero: new Tally(),
    badLabel: new Tally(),
    outOfScope: new Tally(),
  };
  for (const object of parts) {
    const part = await openPart(output, object);
    scan.metadata ??= partKeyValues(part);
    const problem = schemaProblem(part);
    if (problem) {
      scan.schema.add(`${part.key} (${problem})`);
      continue;
    }
    // The part's own paths: a part's share of the run, to find its duplicates and the range it covers.
    const paths = new Map<string, number>();
    let min: string | undefined;
    let max: string | undefined;
    for await (const rows of readPartRowGroups(part, ['path', 'label', 'features'])) {
      for (const row of rows) {
        const path = row.path as string;
        paths.set(path, (paths.get(path) ?? 0) + 1);
        if (min === undefined || path < min) min = path;
        if (max === undefined || path > max) max = path;
        placed.add(path);
        if (scope.kind !== 'incremental' && !inPrefix(path, scope.prefix)) scan.outOfScope.add(path);
        inspectRow(scan, path, row.label as string, row.features as number[] | null, shape);
      }
    }
    if (min === undefined || max === undefined) continue;
    const duplicates = new Map([...paths].filter(([, rows]) => rows > 1));
    scan.bounds.push({ object, min, max, duplicates });
  }
  return scan;
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
    if (cluster.length === 1) for (const [path, rows] of cluster[0]!.duplicates) duplicates.add(`${path} (${rows} times)`);
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

function inspectRow(scan: RunScan, path: string, label: string, features: number[] | null, shape: VectorShape): void {
  scan.rows++;
  scan.labels.set(label, (scan.labels.get(label) ?? 0) + 1);
  if (label === '' || label !== parentFolderName(path)) scan.badLabel.add(`${path} (${JSON.stringify(label)})`);
  if (features?.length !== shape.featureLength) {
    scan.length.add(`${path} (${features?.length ?? 'no'} values)`);
    if (!features?.length) return;
  }
  const [min, max] = shape.featureRange;
  let nonFinite = false;
  let outOfRange = false;
  let zero = true;
  for (const value of features) {
    if (!Number.isFinite(value)) nonFinite = true;
    else if (value < min || value > max) outOfRange = true;
    if (value !== 0) zero = false;
  }
  if (nonFinite) scan.nonFinite.add(path);
  if (outOfRange) scan.outOfRange.add(path);
  if (zero) scan.zero.add(path);
}

function schemaProblem(part: PartFile): string | undefined {
  const columns = new Map(parquetSchema(part.metadata).children.map((column) => [column.element.name, columnType(column)]));
  const problems = Object.entries(expectedColumns)
    .filter(([name, type]) => columns.get(name) !== type)
    .map(([name, type]) => `${name} is ${columns.get(name) ?? 'missing'}, expected ${type}`);
  return problems.length > 0 ? problems.join('; ') : undefined;
}

function columnType(column: SchemaTree): string {
  const { element } = column;
  if (column.children.length === 0) {
    return element.logical_type?.type === 'STRING' || element.converted_type === 'UTF8' ? 'STRING' : (element.type ?? 'GROUP');
  }
  if (element.converted_type !== 'LIST' && element.logical_type?.type !== 'LIST') return 'GROUP';
  let leaf = column;
  while (leaf.children.length === 1) leaf = leaf.children[0]!;
  return `LIST<${columnType(leaf)}>`;
}

function mapCheck(mapError: ValidateRequest['mapError']): Check {
  if (mapError === null) return { name: 'map', passed: true, detail: 'the map completed' };
  const cause = [mapError.Error, mapError.Cause].filter(Boolean).join(': ');
  return { name: 'map', passed: false, detail: `the map failed, so the run is not published: ${cause.slice(0, 500)}` };
}

function partsCheck(request: ValidateRequest, runParts: readonly StoredObject[], rows: number, failures: number): Check {
  const found = runParts.map((object) => object.key).sort();
  const written = [...request.reduce.parts].sort();
  const problems = [
    found.join() !== written.join()
      ? `the run's staging folder holds [${found.join(', ')}], the reducer wrote [${written.join(', ')}]`
      : '',
    rows !== request.reduce.rows ? `the parts hold ${rows} rows, the reducer wrote ${request.reduce.rows}` : '',
    failures !== request.reduce.failures ? `failures.jsonl holds ${failures} records, the reducer wrote ${request.reduce.failures}` : '',
  ].filter(Boolean);
  return problems.length === 0
    ? { name: 'parts', passed: true, detail: `${found.length} parts with ${rows} rows, as the reducer reported` }
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

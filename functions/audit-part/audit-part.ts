/**
 * The second state of a ReduceParts child: audits the part its ReducePart wrote, independently of the code that
 * wrote it (hyparquet reads what parquet-wasm wrote), and lists the child's range of the input anew, then writes
 * what it found (runs/<runId>/reduce/audits/NNNNN.json) for Validate, which sums the audits of every group and
 * never reads a row itself unless parts overlap or the accounting must name paths. Knows nothing of Lambda.
 *
 * What is checked per row: the columns and their types, a vector of the model's length, finite, within the model's
 * range, not all zeros, a label that is the image's folder, a path within the run's scope, no path twice in the
 * part. Memory holds one row group and the part's paths (a part's share of the run), never the run's.
 *
 * A zero vector fails even for a blank image: measured with the default MobileNetV2, uniform black, white,
 * grey and primary-colour images give 340 to 575 non-zero features of 1280, so an all-zero row is a lost
 * vector (a zero-filled buffer), never a picture, and re-reading the source could not excuse it.
 */
import { parquetSchema, type SchemaTree } from 'hyparquet';
import type { PartAudit, ReduceGroup, RunScope } from '../../statemachine/contracts.ts';
import { openPart, type PartFile, partKeyValues, readPartVectorGroups } from '../shared/dataset/feature-parts.ts';
import { listedInputRange } from '../shared/dataset/listed-inputs.ts';
import { PathDigests } from '../shared/dataset/path-digest.ts';
import { inPrefix } from '../shared/dataset/run-scope.ts';
import { Tally } from '../shared/dataset/tally.ts';
import type { ModelDescriptor } from '../shared/model/model-descriptor.ts';
import { intermediateTags, partAuditKey, stagedPartsPrefix } from '../shared/run-layout.ts';
import { parentFolderName, type Storage, type StorageLocation, type StoredObject } from '../shared/storage/storage.ts';

export type VectorShape = Pick<ModelDescriptor, 'featureLength' | 'featureRange'>;

export interface AuditPartRequest {
  runId: string;
  group: ReduceGroup;
  output: Storage;
  /** The run's input location: its range of keys (group.listRange) is listed, unless the inputs are a manifest. */
  input: StorageLocation;
  manifest: { bucket: string; key: string } | null;
  scope: RunScope;
}

/** Columns as Parquet types: strings are UTF8 byte arrays, features a LIST of FLOAT (float32). */
const expectedColumns: Record<string, string> = {
  path: 'STRING',
  label: 'STRING',
  size: 'INT64',
  etag: 'STRING',
  sha256: 'STRING',
  features: 'LIST<FLOAT>',
};

/** The row checks, by the name Validate's report gives each. */
export const rowChecks = ['schema', 'vector-length', 'finite', 'range', 'non-zero', 'labels', 'scope', 'duplicates'] as const;
export type RowCheck = (typeof rowChecks)[number];

export async function auditPart(request: AuditPartRequest, shape: VectorShape): Promise<PartAudit> {
  const started = performance.now();
  const { runId, group, output } = request;
  // The listing (a LIST request per 1,000 keys on S3) runs while the part is read, not after it.
  const [found, listed] = await Promise.all([readStagedPart(request, shape), listGroupRange(request)]);
  const audit: PartAudit = {
    runId,
    index: group.index,
    ...found,
    listed: listed?.toJSON() ?? null,
    millis: Math.round(performance.now() - started),
  };
  await output.write(partAuditKey(runId, group.index), JSON.stringify(audit), { tags: intermediateTags });
  return audit;
}

/** The group's range of the input listed anew; null when the run's inputs are a manifest. */
async function listGroupRange(request: AuditPartRequest): Promise<PathDigests | null> {
  if (request.manifest !== null) return null;
  const listed = new PathDigests();
  for await (const path of listedInputRange(request.input, request.group.listRange)) listed.add(path);
  return listed;
}

/** What the staged part holds, row by row, as an independent reader sees it. */
async function readStagedPart(
  request: AuditPartRequest,
  shape: VectorShape,
): Promise<Pick<PartAudit, 'part' | 'rows' | 'labels' | 'metadata' | 'tallies' | 'bounds' | 'placed'>> {
  const { runId, group, output } = request;
  const tallies = Object.fromEntries(rowChecks.map((check) => [check, new Tally()])) as Record<RowCheck, Tally>;
  const labels = new Map<string, number>();
  const placed = new PathDigests();
  const object = group.part === null ? undefined : await stagedObject(output, runId, group.part);
  let rows = 0;
  let metadata: Record<string, string> | null = null;
  let bounds: PartAudit['bounds'] = null;

  if (group.part !== null && object === undefined) tallies.schema.add(`${group.part} (missing)`);
  if (object) {
    const part = await openPart(output, object);
    metadata = partKeyValues(part);
    const problem = schemaProblem(part);
    if (problem) tallies.schema.add(`${part.key} (${problem})`);
    else {
      const paths = new Map<string, number>();
      for await (const { rows: groupRows, vectors } of readPartVectorGroups(part, ['path', 'label'])) {
        for (const [index, row] of groupRows.entries()) {
          const path = row.path as string;
          rows++;
          paths.set(path, (paths.get(path) ?? 0) + 1);
          placed.add(path);
          const label = row.label as string;
          labels.set(label, (labels.get(label) ?? 0) + 1);
          if (request.scope.kind !== 'incremental' && !inPrefix(path, request.scope.prefix)) tallies.scope.add(path);
          inspectRow(tallies, path, label, vectors.vector(index), shape);
        }
      }
      for (const [path, count] of paths) if (count > 1) tallies.duplicates.add(`${path} (${count} times)`);
      // Any one order tells parts that cannot share a path apart: JavaScript's string order serves.
      for (const path of paths.keys()) {
        if (bounds === null) bounds = { min: path, max: path };
        else if (path < bounds.min) bounds.min = path;
        else if (path > bounds.max) bounds.max = path;
      }
    }
  }

  return {
    part: object ? { key: object.key, size: object.size, etag: object.etag ?? null } : null,
    rows,
    labels: Object.fromEntries(labels),
    metadata,
    tallies: Object.fromEntries(rowChecks.map((check) => [check, tallies[check].toJSON()])),
    bounds,
    placed: placed.toJSON(),
  };
}

/** The staged part as listed now (its size and ETag, which Validate compares with its own listing). */
async function stagedObject(output: Storage, runId: string, key: string): Promise<StoredObject | undefined> {
  for await (const object of output.list(stagedPartsPrefix(runId))) if (object.key === key) return object;
  return undefined;
}

/** `features` as read flat: a null list has no values, a null element is NaN. */
function inspectRow(tallies: Record<RowCheck, Tally>, path: string, label: string, features: Float32Array, shape: VectorShape): void {
  if (label === '' || label !== parentFolderName(path)) tallies.labels.add(`${path} (${JSON.stringify(label)})`);
  if (features.length !== shape.featureLength) {
    tallies['vector-length'].add(`${path} (${features.length} values)`);
    if (features.length === 0) return;
  }
  const [min, max] = shape.featureRange;
  let nonFinite = false;
  let outOfRange = false;
  let zero = true;
  for (let i = 0; i < features.length; i++) {
    const value = features[i]!;
    if (value !== 0) zero = false;
    if (!(value >= min && value <= max)) {
      if (Number.isFinite(value)) outOfRange = true;
      else nonFinite = true;
    }
  }
  if (nonFinite) tallies.finite.add(path);
  if (outOfRange) tallies.range.add(path);
  if (zero) tallies['non-zero'].add(path);
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

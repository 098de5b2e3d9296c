/**
 * The dataset's nearest-neighbour index: a LanceDB database beside it (`<output>/index/`, on the filesystem or
 * S3), one row per image (path, label, sha256, the part it came from, its unit vector), and a manifest
 * (`index/featurize-index.json`) naming the model and the versions of the parts it was built from.
 *
 * It follows the dataset by reconciling with features/: parts that are gone or changed (an incremental run's
 * publish rewrites older parts under the same name) lose their rows, new or changed parts add theirs. Rows are
 * removed by part before they are added, so an update cut short is finished, not doubled, by the next one; the
 * manifest is written last. The index never mixes models: a dataset of another model (a full run with a new
 * model replaced it) is indexed anew, and a dataset mixing models is refused.
 *
 * Up to `exactSearchRows` rows LanceDB scans every vector (exact); above, an IVF-HNSW-SQ index answers and the
 * returned candidates' similarities are recomputed exactly from their stored vectors.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as lancedb from '@lancedb/lancedb';
import { listParts, type PartFile, type PartVersion, partVersion, readPartVectorGroups, sameVersion } from '../dataset/feature-parts.ts';
import { ConfigError, IndexBuildRefusedError, PublishLeaseBusyError, RunArtifactError } from '../errors.ts';
import { featuresPrefix, indexManifestKey, indexPrefix } from '../run-layout.ts';
import { readIfPresent, type Storage, type StoredObject } from '../storage/storage.ts';
import { annBuildRefusal, annBuildRefusalOnMachine } from './ann-build-limits.ts';
import { type DatasetParts, openDatasetParts, partsSource, type VectorSource } from './dataset-vectors.ts';
import { normalizeRows } from './exact-search.ts';

const tableName = 'images';
/** Below this many rows a scan of every vector is fast (tens of milliseconds) and exact: no ANN index. */
export const exactSearchRows = 10_000;

export interface IndexManifest extends VectorSource {
  dimension: number;
  rows: number;
  parts: PartVersion[];
  /** The ANN index type, or null while the table is small enough to scan. */
  ann: string | null;
  updatedAt: string;
}

export interface IndexUpdate {
  action: 'built' | 'updated' | 'current';
  rows: number;
  partsAdded: number;
  partsRemoved: number;
  ann: string | null;
  /** The model of the index replaced because the dataset's is another. */
  replacedModel?: string;
}

export interface UpdateIndexOptions {
  /** The caller's lease check, run before each change. */
  check?: () => void;
  /**
   * The memory the update may use, in MiB (its Lambda function's): an ANN build estimated to need more is refused
   * before anything changes, instead of the process being killed mid-build. It also gives the function's vCPUs.
   */
  memoryLimitMiB?: number;
  /**
   * The milliseconds the update has left (its Lambda invocation's): with `memoryLimitMiB`, an ANN build estimated
   * to take longer on the function's vCPUs is refused before anything changes, instead of being stopped at the
   * function's timeout, every run again.
   */
  remainingMs?: () => number;
  /**
   * The memory of the machine the update runs on (`featurize index`), in MiB: an ANN build estimated to need more
   * is refused before anything changes, instead of being killed (or swapping) an hour into the build.
   */
  machineMemoryMiB?: number;
  /**
   * features/ as listed and opened under the dataset's lease (index-under-lease.ts): a state the dataset was in
   * between publishes. Parts a publish replaced or removed since are left for the next update. Listed now when
   * not given.
   */
  snapshot?: DatasetParts;
}

export interface SimilarImage {
  path: string;
  label: string;
  similarity: number;
}

export async function readIndexManifest(storage: Storage): Promise<IndexManifest | undefined> {
  const bytes = await readIfPresent(storage, indexManifestKey);
  return bytes ? (JSON.parse(Buffer.from(bytes).toString('utf8')) as IndexManifest) : undefined;
}

/** True when the index holds exactly the parts `objects` (as listed now) of features/. */
export function indexIsCurrent(manifest: IndexManifest, objects: readonly StoredObject[]): boolean {
  const current = objects.map(partVersion);
  return current.length === manifest.parts.length && current.every((part) => manifest.parts.some((known) => sameVersion(known, part)));
}

/**
 * LanceDB reads S3 through its own client (Rust object_store), which takes the credentials from the same
 * environment variables as the SDK (or the role it runs under); an S3-compatible store (MinIO, fauxqs) needs its
 * endpoint, path-style requests and a region (https://docs.lancedb.com/storage/configuration).
 */
async function connect(storage: Storage): Promise<lancedb.Connection> {
  const uri = storage.locationOf(indexPrefix.slice(0, -1));
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  const storageOptions: Record<string, string> = {};
  if (uri.startsWith('s3://') && endpoint) {
    Object.assign(storageOptions, {
      aws_endpoint: endpoint,
      aws_virtual_hosted_style_request: 'false',
      allow_http: String(endpoint.startsWith('http:')),
    });
  }
  if (uri.startsWith('s3://') && process.env.AWS_REGION) storageOptions.aws_region = process.env.AWS_REGION;
  return (await loadLancedb()).connect(uri, { storageOptions });
}

/** LanceDB, its log (stderr, warnings by default: a table created, a deprecation) cut to errors unless LANCEDB_LOG says. */
async function loadLancedb(): Promise<typeof lancedb> {
  process.env.LANCEDB_LOG ??= 'error';
  return import('@lancedb/lancedb');
}

const sqlString = (value: string) => `'${value.replaceAll("'", "''")}'`;

/**
 * Brings the index in line with features/. `check` runs before each change (the caller's lease check). A
 * dataset without parts, or mixing models, is refused.
 */
export async function updateIndex(storage: Storage, options: UpdateIndexOptions = {}): Promise<IndexUpdate> {
  const { check = () => {}, memoryLimitMiB, remainingMs, machineMemoryMiB } = options;
  const { objects, parts } = options.snapshot ?? (await openDatasetParts(storage));
  const source = partsSource(storage, parts);
  const manifest = await readIndexManifest(storage);
  const db = await connect(storage);
  const hasTable = (await db.tableNames()).includes(tableName);
  const sameSource =
    manifest !== undefined &&
    manifest.modelId === source.modelId &&
    manifest.engine === source.engine &&
    manifest.preprocessing === source.preprocessing;
  const rebuild = !hasTable || !sameSource;
  const current = objects.map(partVersion);
  if (!rebuild && indexIsCurrent(manifest, objects)) {
    return { action: 'current', rows: manifest.rows, partsAdded: 0, partsRemoved: 0, ann: manifest.ann };
  }
  const known = rebuild ? [] : manifest!.parts;
  const added = current.filter((part) => !known.some((k) => sameVersion(k, part)));
  const removed = known.filter((part) => !current.some((c) => sameVersion(c, part)));

  let table: lancedb.Table | undefined = rebuild ? undefined : await db.openTable(tableName);
  const indexed = table !== undefined && (await hasVectorIndex(table));
  const datasetRows = parts.reduce((sum, part) => sum + Number(part.metadata.num_rows), 0);
  if ((memoryLimitMiB !== undefined || machineMemoryMiB !== undefined) && !indexed && datasetRows >= exactSearchRows) {
    const width = rebuild ? await vectorWidth(parts[0]!) : manifest!.dimension;
    const refusal =
      memoryLimitMiB !== undefined
        ? annBuildRefusal({ memoryLimitMiB, remainingMs }, datasetRows, width, storage.locationOf(''))
        : annBuildRefusalOnMachine(machineMemoryMiB!, datasetRows, width);
    if (refusal) throw new IndexBuildRefusedError(refusal);
  }

  check();
  const stale = [...new Set([...removed, ...added].map((part) => part.key))];
  if (table && stale.length > 0) await table.delete(`part IN (${stale.map(sqlString).join(', ')})`);
  let dimension = manifest?.dimension ?? 0;
  const replaced = new Set<string>();
  for (const part of parts.filter((p) => added.some((a) => a.key === p.key))) {
    try {
      for await (const rows of indexRows(part)) {
        if (rows.length === 0) continue;
        check();
        dimension = rows[0]!.vector.length;
        if (table) await table.add(rows);
        else table = await db.createTable(tableName, rows, { mode: 'overwrite' });
      }
    } catch (error) {
      // A part a publish removed or rewrote while it was read is left for the next update; any other failure stands.
      if ((await partsReplacedSince(storage, [part.key], current)).length === 0) throw error;
      replaced.add(part.key);
    }
  }
  // Parts a publish replaced after the snapshot: their rows may mix two versions, so they go, and the manifest does
  // not name them; the next update indexes what they became.
  const replacedAfter = await partsReplacedSince(
    storage,
    added.map((part) => part.key),
    current,
  );
  for (const key of replacedAfter) replaced.add(key);
  if (table && replaced.size > 0) await table.delete(`part IN (${[...replaced].map(sqlString).join(', ')})`);
  if (!table && replaced.size > 0) {
    // Retried by the state machine, as when the lease is busy: the next attempt reads what the publish left.
    throw new PublishLeaseBusyError(`a publish replaced every part of ${storage.locationOf(featuresPrefix)} while it was indexed`);
  }
  if (!table) throw new ConfigError(`${storage.locationOf(featuresPrefix)} has parts but no rows to index`);
  const rows = await table.countRows();
  const ann = await maintainAnnIndex(table, rows, indexed);
  const indexedParts = current.filter((part) => !replaced.has(part.key));
  const update: IndexManifest = { ...source, dimension, rows, parts: indexedParts, ann, updatedAt: new Date().toISOString() };
  check();
  await storage.write(indexManifestKey, `${JSON.stringify(update, null, 1)}\n`);
  return {
    action: rebuild ? 'built' : 'updated',
    rows,
    partsAdded: added.filter((part) => !replaced.has(part.key)).length,
    partsRemoved: removed.filter((part) => !added.some((a) => a.key === part.key)).length,
    ann,
    ...(manifest && !sameSource ? { replacedModel: manifest.modelId } : {}),
  };
}

/** Which of `keys` features/ no longer holds at their `snapshot` version (removed, or rewritten by a publish). */
async function partsReplacedSince(storage: Storage, keys: readonly string[], snapshot: readonly PartVersion[]): Promise<string[]> {
  if (keys.length === 0) return [];
  const now = (await listParts(storage)).map(partVersion);
  return keys.filter((key) => {
    const then = snapshot.find((part) => part.key === key);
    const listed = now.find((part) => part.key === key);
    return !then || !listed || !sameVersion(then, listed);
  });
}

async function vectorWidth(part: PartFile): Promise<number> {
  for await (const { vectors } of readPartVectorGroups(part, [])) {
    if (vectors.rows > 0) return vectors.vector(0).length;
  }
  return 0;
}

async function hasVectorIndex(table: lancedb.Table): Promise<boolean> {
  return (await table.listIndices()).some((index) => index.columns.includes('vector'));
}

async function* indexRows(part: PartFile) {
  for await (const { rows, vectors } of readPartVectorGroups(part, ['path', 'label', 'sha256'])) {
    if (rows.length === 0) continue;
    const dimension = vectors.uniformLength();
    if (dimension === undefined) throw new RunArtifactError(`${part.key}: vectors of more than one length in a row group`);
    const matrix = normalizeRows(vectors.values, dimension);
    yield rows.map((row, i) => ({
      path: String(row.path),
      label: String(row.label),
      sha256: String(row.sha256),
      part: part.key,
      vector: matrix.data.subarray(i * dimension, (i + 1) * dimension),
    }));
  }
}

/**
 * Small tables are scanned; from `exactSearchRows` on, an IVF-HNSW-SQ index on cosine distance (built once, then
 * extended by optimize(), which also compacts the small files each update adds and drops old versions).
 */
async function maintainAnnIndex(table: lancedb.Table, rows: number, indexed: boolean): Promise<string | null> {
  await inScratchFolder(async () => {
    if (!indexed && rows >= exactSearchRows) {
      const { Index } = await loadLancedb();
      await table.createIndex('vector', { config: Index.hnswSq({ distanceType: 'cosine' }) });
    }
    await table.optimize({ cleanupOlderThan: new Date() });
  });
  return indexed || rows >= exactSearchRows ? 'IVF_HNSW_SQ' : null;
}

/**
 * LanceDB spills an IVF index's shuffle to the system's temporary folder (TMPDIR: about 1.3 KB a vector, seen at
 * 20,000 by `npm run bench:search`) and leaves it there. Each update gets a folder of its own, removed after, so
 * that a warm Lambda's /tmp (the index function's ephemeral storage, statemachine/steps.ts) does not fill up.
 */
async function inScratchFolder<T>(work: () => Promise<T>): Promise<T> {
  const previous = process.env.TMPDIR;
  const folder = await mkdtemp(join(tmpdir(), 'featurize-index-'));
  // LanceDB (Rust, std::env::temp_dir) reads TMPDIR from this process's environment when it spills.
  process.env.TMPDIR = folder;
  try {
    return await work();
  } finally {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    await rm(folder, { recursive: true, force: true });
  }
}

/** The index, opened for queries. */
export interface OpenIndex {
  /** The stored unit vector of `path`, when the index holds it. */
  vectorOf(path: string): Promise<Float32Array | undefined>;
  /** The `k` nearest images to a unit vector, nearest first, `excluded` (the query's own path) left out. */
  search(query: Float32Array, k: number, excluded?: string): Promise<SimilarImage[]>;
}

/**
 * How hard an ANN query looks (no effect on an exact scan). On 20,000 synthetic vectors (`npm run bench:search`,
 * 2 shared cores; a check, not a published figure): LanceDB's defaults gave recall@10 0.86, `ef` 100 0.99, and a
 * refine factor of 4 (candidates re-ranked by their full vectors) 1.0, all under 5 ms a query.
 */
export interface SearchEffort {
  /** Candidates the HNSW graph search keeps. */
  ef: number;
  /** k × this many candidates re-ranked by their unquantized vectors. */
  refineFactor: number;
}

// At 1,000,000 vectors (bench:search, one build): recall@10 0.953 at ef 100, 0.977 at 150, 0.989 at 200 (p50 7.2 ms).
export const defaultSearchEffort: SearchEffort = { ef: 200, refineFactor: 2 };

export async function openIndex(storage: Storage, effort: SearchEffort = defaultSearchEffort): Promise<OpenIndex> {
  const table = await (await connect(storage)).openTable(tableName);
  return {
    async vectorOf(path) {
      const [row] = await table
        .query()
        .where(`path = ${sqlString(path)}`)
        .select(['vector'])
        .limit(1)
        .toArray();
      return row ? storedVector(row.vector) : undefined;
    },
    async search(query, k, excluded) {
      const found = await table
        .vectorSearch(query)
        .distanceType('cosine')
        .ef(effort.ef)
        .refineFactor(effort.refineFactor)
        .limit(k + 1)
        .select(['path', 'label', 'vector', '_distance'])
        .toArray();
      // The index ranks by its quantized distances; the similarities shown are exact, from the stored vectors.
      return found
        .filter((row) => row.path !== excluded)
        .map((row) => ({ path: String(row.path), label: String(row.label), similarity: dot(query, storedVector(row.vector)) }))
        .sort((a, b) => b.similarity - a.similarity)
        .slice(0, k);
    },
  };
}

/** A vector as LanceDB returns it: an Arrow vector, iterable (not indexable) over its floats. */
const storedVector = (value: unknown) => Float32Array.from(value as Iterable<number>);

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

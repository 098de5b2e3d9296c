/**
 * The smoke test's scenario and its checks, against any SmokeCloud: deploy, upload the awkward objects into a folder
 * of their own under the input prefix, follow the runs the upload trigger starts, then run over the folder's prefix
 * as `featurize start --wait` does; after each path, check what a user must see:
 *  - every run succeeded;
 *  - the dataset passes what `featurize inspect` shows (dataset-summary.ts): the schema, one vector length, the
 *    model and engine recorded, the rows per label;
 *  - every uploaded image is exactly one row, under its own key and labelled by its folder, or (the truncated JPEG)
 *    a failure record with code CORRUPT;
 *  - the folder marker is no row, and no failure other than a skip.
 */
import { summarizeDataset } from '../../cli/dataset-summary.ts';
import { listParts, openPart, readPartRowGroups } from '../../functions/shared/dataset/feature-parts.ts';
import { type FailureCode, failureKinds } from '../../functions/shared/failures.ts';
import { failuresKey } from '../../functions/shared/run-layout.ts';
import { normalizePrefix, parentFolderName, readIfPresent, type Storage } from '../../functions/shared/storage/storage.ts';
import type { RunOutcome, SmokeCloud, SmokeTarget } from './smoke-cloud.ts';
import { type SmokeObject, smokeObjects } from './smoke-objects.ts';

export interface PathReport {
  /** `upload` (the trigger's runs) or `prefix` (a run over the smoke folder). */
  path: 'upload' | 'prefix';
  runs: RunOutcome[];
  /** What is wrong, one line each; empty when the path passed. */
  findings: string[];
}

export interface SmokeReport {
  /** The folder the objects went to, relative to the input bucket. */
  folder: string;
  paths: PathReport[];
  passed: boolean;
}

/** The columns `featurize inspect` shows for a sound dataset (README: Output layout). */
const expectedSchema = [
  { name: 'path', type: 'string' },
  { name: 'label', type: 'string' },
  { name: 'size', type: 'int64' },
  { name: 'etag', type: 'string (nullable)' },
  { name: 'sha256', type: 'string' },
];

/** Runs the scenario; `folderName` makes the keys its own (`smoke-<stamp>`). Teardown is the caller's. */
export async function runSmoke(cloud: SmokeCloud, folderName: string, log: (line: string) => void): Promise<SmokeReport> {
  const target = await cloud.deploy();
  const folder = `${normalizePrefix(target.input.prefix)}${folderName}/`;
  const objects = await smokeObjects();
  const since = new Date();
  log(`uploading ${objects.length} objects to s3://${target.input.bucket}/${folder}`);
  for (const object of objects) await cloud.upload(`${folder}${object.key}`, object.body);

  const paths: PathReport[] = [];
  const triggered = objects.filter((object) => object.expected !== 'skipped').map((object) => `${folder}${object.key}`);
  log('waiting for the runs the upload trigger starts');
  const uploadRuns = await cloud.awaitUploadRuns(triggered, since);
  paths.push({ path: 'upload', runs: uploadRuns, findings: await checkPath(cloud.output(), target, folder, objects, uploadRuns) });

  log(`running over the prefix ${folder}`);
  const prefixRun = await cloud.runPrefix(folder);
  paths.push({ path: 'prefix', runs: [prefixRun], findings: await checkPath(cloud.output(), target, folder, objects, [prefixRun]) });
  return { folder, paths, passed: paths.every((path) => path.findings.length === 0) };
}

/** What is wrong with the outcome of `runs` over the smoke objects, one line each. */
export async function checkPath(
  output: Storage,
  target: SmokeTarget,
  folder: string,
  objects: readonly SmokeObject[],
  runs: readonly RunOutcome[],
): Promise<string[]> {
  const findings: string[] = [];
  for (const run of runs) {
    if (run.status !== 'SUCCEEDED') {
      findings.push(`run ${run.runId} ended ${run.status}${run.error ? `: ${run.error.error}: ${run.error.cause.slice(0, 300)}` : ''}`);
    }
  }
  if (runs.length === 0) findings.push('no run was started');

  const summary = await summarizeDataset(output).catch((error: Error) => {
    findings.push(`featurize inspect finds no dataset: ${error.message}`);
    return undefined;
  });
  if (!summary) return findings;
  const columns = summary.schema.map((column) => `${column.name} ${column.type}`);
  for (const column of expectedSchema) {
    if (!columns.includes(`${column.name} ${column.type}`)) findings.push(`the dataset has no column "${column.name} ${column.type}"`);
  }
  if (!summary.schema.some((column) => column.name === 'features' && column.type.startsWith('list<float>'))) {
    findings.push('the dataset has no list<float> features column');
  }
  if (summary.vectorLengths.length !== 1) findings.push(`vectors of several lengths: ${summary.vectorLengths.join(', ')}`);
  const metadata = new Map(summary.metadata);
  for (const key of ['featurize.model_id', 'featurize.engine']) if (!metadata.get(key)) findings.push(`the parts do not record ${key}`);

  const rows = await rowsUnder(output, `s3://${target.input.bucket}/${folder}`);
  const failures = new Map<string, FailureCode>();
  for (const run of runs) for (const [path, code] of await failureRecords(output, run.runId)) failures.set(path, code);
  const labelled = new Map<string, number>();
  for (const object of objects) {
    const path = `s3://${target.input.bucket}/${folder}${object.key}`;
    const found = rows.get(path) ?? [];
    const failure = failures.get(path);
    if (object.expected === 'row') {
      if (found.length !== 1) findings.push(`${path}: ${found.length} rows, expected 1${failure ? ` (failure ${failure})` : ''}`);
      const label = parentFolderName(path);
      if (found.some((row) => row.label !== label)) findings.push(`${path}: labelled ${found[0]?.label}, expected "${label}"`);
      if (found.some((row) => row.length !== summary.vectorLengths[0])) findings.push(`${path}: a vector of another length`);
      labelled.set(label, (labelled.get(label) ?? 0) + 1);
    } else if (object.expected === 'CORRUPT') {
      if (found.length > 0) findings.push(`${path}: a truncated JPEG has ${found.length} row(s)`);
      if (failure !== 'CORRUPT') findings.push(`${path}: a truncated JPEG recorded as ${failure ?? 'nothing'}, expected CORRUPT`);
    } else {
      if (found.length > 0) findings.push(`${path}: a folder marker has ${found.length} row(s)`);
      if (failure && failureKinds[failure] !== 'skipped')
        findings.push(`${path}: a folder marker recorded as failure ${failure}, not skipped`);
    }
  }
  for (const [label, count] of labelled) {
    if ((summary.labels.get(label) ?? 0) < count)
      findings.push(`featurize inspect counts ${summary.labels.get(label) ?? 0} row(s) of "${label}", expected at least ${count}`);
  }
  return findings;
}

/** The dataset's rows whose path starts with `location`, by path: each row's label and vector length. */
async function rowsUnder(output: Storage, location: string): Promise<Map<string, { label: string; length: number }[]>> {
  const rows = new Map<string, { label: string; length: number }[]>();
  for (const object of await listParts(output)) {
    for await (const group of readPartRowGroups(await openPart(output, object), ['path', 'label', 'features'])) {
      for (const row of group) {
        const path = String(row.path);
        if (!path.startsWith(location)) continue;
        const length = (row.features as ArrayLike<number> | null)?.length ?? 0;
        rows.set(path, [...(rows.get(path) ?? []), { label: String(row.label), length }]);
      }
    }
  }
  return rows;
}

/** The run's failure records (`runs/<runId>/failures.jsonl`), path to code; none if the run wrote none. */
async function failureRecords(output: Storage, runId: string): Promise<Map<string, FailureCode>> {
  const bytes = await readIfPresent(output, failuresKey(runId));
  const records = new Map<string, FailureCode>();
  for (const line of new TextDecoder().decode(bytes ?? new Uint8Array()).split('\n')) {
    if (line.trim() === '') continue;
    const { path, code } = JSON.parse(line) as { path: string; code: FailureCode };
    records.set(path, code);
  }
  return records;
}

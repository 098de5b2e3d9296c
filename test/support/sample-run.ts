/**
 * What a finished run leaves in its output location, for tests of the report: its staged parts and their
 * published copies in features/, failure records, and the validator's report.json in the shape the validator
 * writes, all consistent with each other.
 */
import type { FailureRecord } from '../../functions/shared/failures.ts';
import { failuresKey, publishedPartKey, reportKey, stagedPartsPrefix } from '../../functions/shared/run-layout.ts';
import type { Storage } from '../../functions/shared/storage/storage.ts';
import { clusteredRows, type FeatureRow, testSource, writeFeatureParts } from './feature-parts.ts';

/** One label needs escaping in HTML: a report must show it as it is, not run it. */
export const sampleLabels = ['Apple Red 1', 'Banana', 'Kiwi', 'Lemon <Meyer> & "co"'];

export const sampleFailures: FailureRecord[] = [
  { path: 's3://images/fruits/Kiwi/empty.jpg', code: 'EMPTY', message: 'the object has 0 bytes' },
  { path: 's3://images/fruits/Banana/notes.txt.jpg', code: 'UNSUPPORTED_FORMAT', message: 'not a raster image: text' },
  { path: 's3://images/fruits/Banana/cut.jpg', code: 'CORRUPT', message: 'premature end of JPEG data' },
  { path: 's3://images/fruits/Lemon/cut.jpg', code: 'CORRUPT', message: 'corrupt JPEG header' },
];

export interface SampleRun {
  rows: FeatureRow[];
  failures: FailureRecord[];
}

export async function writeSampleRun(
  output: Storage,
  runId: string,
  { rows: count = 200, validationReport = true, failures = true, passed = true } = {},
): Promise<SampleRun> {
  const rows = clusteredRows(count, { width: 48, labels: sampleLabels });
  const staged = await writeFeatureParts(output, runId, rows, {
    rowsPerPart: Math.ceil(count / 2),
    rowGroupRows: 64,
    folder: stagedPartsPrefix(runId),
  });
  for (const key of staged) await output.copy(key, publishedPartKey(key));
  const failed = failures ? sampleFailures : [];
  if (failures) await output.write(failuresKey(runId), `${failed.map((f) => JSON.stringify(f)).join('\n')}\n`);
  if (validationReport) {
    const labels: Record<string, number> = {};
    for (const row of rows) labels[row.label] = (labels[row.label] ?? 0) + 1;
    const failureCodes: Record<string, { count: number; examples: string[] }> = {};
    for (const f of failed) {
      const entry = (failureCodes[f.code] ??= { count: 0, examples: [] });
      entry.count++;
      entry.examples.push(f.path);
    }
    await output.write(
      reportKey(runId),
      JSON.stringify({
        runId,
        passed,
        scope: { kind: 'full', prefix: 's3://images/fruits/' },
        createdAt: '2026-11-25T15:20:00.000Z',
        modelId: testSource.modelId,
        engine: testSource.engine,
        preprocessing: testSource.preprocessing,
        counts: { listed: rows.length + failed.length, rows: rows.length, failures: failed.length, skipped: 0 },
        labels,
        failureCodes,
        parts: staged,
        checks: [
          { name: 'vector-length', passed: true, detail: 'every vector has 48 values' },
          {
            name: 'accounting',
            passed,
            detail: passed ? 'every listed input is a row or a failure' : '3 listed inputs are neither a row nor a failure',
          },
        ],
      }),
    );
  }
  return { rows, failures: failed };
}

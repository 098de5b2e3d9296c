/**
 * What a finished run leaves in its output location, for tests of the report: feature parts, failure records,
 * and the validator's report.json in the shape the validator writes, all consistent with each other.
 */
import type { FailureRecord } from '../../functions/shared/failures.ts';
import { failuresKey, reportKey } from '../../functions/shared/run-layout.ts';
import type { Storage } from '../../functions/shared/storage/storage.ts';
import { clusteredRows, testSource, writeFeatureParts, type FeatureRow } from './feature-parts.ts';

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
  await writeFeatureParts(output, runId, rows, { rowsPerPart: Math.ceil(count / 2), rowGroupRows: 64 });
  const failed = failures ? sampleFailures : [];
  if (failures) await output.write(failuresKey(runId), failed.map((f) => JSON.stringify(f)).join('\n') + '\n');
  if (validationReport) {
    const perLabel: Record<string, number> = {};
    for (const row of rows) perLabel[row.label] = (perLabel[row.label] ?? 0) + 1;
    const failureCodes: Record<string, number> = {};
    const failureExamples: Record<string, { path: string; message: string }[]> = {};
    for (const f of failed) {
      failureCodes[f.code] = (failureCodes[f.code] ?? 0) + 1;
      (failureExamples[f.code] ??= []).push({ path: f.path, message: f.message });
    }
    await output.write(
      reportKey(runId),
      JSON.stringify({
        runId,
        passed,
        checks: [
          { name: 'vector shape', passed: true, detail: `${rows.length} vectors of 48 float32` },
          { name: 'accounting', passed, detail: passed ? 'every listed key is a row or a failure' : { missing: 3 } },
        ],
        counts: { listed: rows.length + failed.length, rows: rows.length, failures: failed.length },
        perLabel,
        failureCodes,
        failureExamples,
        model: testSource.modelId,
        engine: testSource.engine,
        preprocessing: JSON.parse(testSource.preprocessing),
        createdAt: '2026-11-25T15:20:00.000Z',
      }),
    );
  }
  return { rows, failures: failed };
}

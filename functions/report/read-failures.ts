/**
 * Failures per code with a few examples each, from runs/<runId>/failures.jsonl (lines `{ path, code, message }`):
 * the report's source when report.json has no failure section.
 */
import { failuresKey } from '../shared/run-layout.ts';
import { readIfPresent, type Storage } from '../shared/storage/storage.ts';

export interface FailureExample {
  path: string;
  message: string;
}

export interface FailuresByCode {
  counts: Record<string, number>;
  examples: Record<string, FailureExample[]>;
}

/** Undefined when the run has no failures file; lines that are not failure records are skipped. */
export async function readFailures(output: Storage, runId: string, examplesPerCode: number): Promise<FailuresByCode | undefined> {
  const bytes = await readIfPresent(output, failuresKey(runId));
  if (!bytes) return undefined;
  const result: FailuresByCode = { counts: {}, examples: {} };
  for (const line of Buffer.from(bytes).toString('utf8').split('\n')) {
    const record = parseRecord(line);
    if (!record) continue;
    result.counts[record.code] = (result.counts[record.code] ?? 0) + 1;
    const examples = (result.examples[record.code] ??= []);
    if (examples.length < examplesPerCode) examples.push({ path: record.path, message: record.message });
  }
  return result;
}

function parseRecord(line: string): { path: string; code: string; message: string } | undefined {
  if (line.trim() === '') return undefined;
  try {
    const { path, code, message } = JSON.parse(line) as Record<string, unknown>;
    return typeof path === 'string' && typeof code === 'string' ? { path, code, message: String(message ?? '') } : undefined;
  } catch {
    return undefined;
  }
}

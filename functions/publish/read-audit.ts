/**
 * What the validator audited, read from its runs/<runId>/report.json: what the run covered (its scope) and its staged parts.
 * This is the publisher's gate, whoever invokes it (the state machine only gets here after a passed validation,
 * a person invoking the function by hand may not): a run without a report, whose report did not pass, or whose
 * report names anything but the run's own staged parts is refused, so that only audited parts reach features/.
 */
import { z } from 'zod';
import { runScopeSchema } from '../../statemachine/contracts.ts';
import { PublishRefusedError } from '../shared/errors.ts';
import { parseJsonDocument } from '../shared/json-document.ts';
import { partRunId, reportKey, stagedPartsPrefix } from '../shared/run-layout.ts';
import { readIfPresent, type Storage } from '../shared/storage/storage.ts';
import type { ValidationReport } from '../validate/validate-run.ts';

const auditSchema = z.object({
  runId: z.string(),
  passed: z.boolean(),
  scope: runScopeSchema,
  parts: z.array(z.string()),
  checks: z.array(z.object({ name: z.string(), passed: z.boolean() })),
}) satisfies z.ZodType<Pick<ValidationReport, 'runId' | 'passed' | 'scope' | 'parts'>>;

export type Audit = Pick<ValidationReport, 'scope' | 'parts'>;

export async function readAudit(output: Storage, runId: string): Promise<Audit> {
  const where = output.locationOf(reportKey(runId));
  const bytes = await readIfPresent(output, reportKey(runId));
  if (!bytes) throw new PublishRefusedError(`run ${runId} has no validation report at ${where}: it was not audited`);
  const report = parseJsonDocument(auditSchema, bytes, where, { expected: 'a validation report', error: PublishRefusedError });
  if (report.runId !== runId) throw new PublishRefusedError(`${where} is the report of run ${report.runId}, not ${runId}`);
  if (!report.passed) {
    const failed = report.checks.filter((check) => !check.passed).map((check) => check.name);
    throw new PublishRefusedError(`run ${runId} did not pass validation (${failed.join(', ')} failed): features/ is left as it was`);
  }
  const foreign = report.parts.find((key) => partRunId(key, stagedPartsPrefix(runId)) !== runId);
  if (foreign !== undefined) throw new PublishRefusedError(`${where} names ${foreign}, not a staged part of run ${runId}`);
  return { scope: report.scope, parts: report.parts };
}

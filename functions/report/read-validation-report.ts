/**
 * The validator's runs/<runId>/report.json, read leniently: each section that is missing or not in the
 * expected shape is left out on its own, so that the HTML report renders whatever the file does hold.
 */
import { z } from 'zod';
import { logger } from '../shared/observability.ts';
import { reportKey } from '../shared/run-layout.ts';
import { readIfPresent, type Storage } from '../shared/storage/storage.ts';

const optional = <T extends z.ZodType>(schema: T) => schema.optional().catch(undefined);

/** The fields of the validator's report the page shows (functions/validate writes it). */
const validationReportSchema = z.object({
  passed: optional(z.boolean()),
  scope: optional(z.object({ kind: z.string(), prefix: z.string().optional() })),
  checks: optional(z.array(z.object({ name: z.string(), passed: z.boolean(), detail: z.unknown().optional() }))),
  counts: optional(
    z.object({ listed: optional(z.number()), rows: optional(z.number()), failures: optional(z.number()), skipped: optional(z.number()) }),
  ),
  /** Rows of the run per label. */
  labels: optional(z.record(z.string(), z.number())),
  /** Per failure code: how many, and the first few paths. */
  failureCodes: optional(z.record(z.string(), z.object({ count: z.number(), examples: z.array(z.string()).catch([]) }))),
  modelId: optional(z.string()),
  engine: optional(z.string()),
  preprocessing: optional(z.string()),
});

export type ValidationReport = z.infer<typeof validationReportSchema>;

/** The report, or undefined when there is none (the run failed before validation) or it is not JSON. */
export async function readValidationReport(output: Storage, runId: string): Promise<ValidationReport | undefined> {
  const bytes = await readIfPresent(output, reportKey(runId));
  if (!bytes) return undefined;
  try {
    return validationReportSchema.parse(JSON.parse(Buffer.from(bytes).toString('utf8')));
  } catch (error) {
    logger.warn('report.json is not a JSON object; the HTML report renders without it', { runId, error: String(error) });
    return undefined;
  }
}

/**
 * Why the ReduceParts map failed, in the children's own words. The map's error says only that more children
 * failed than tolerated (States.ExceedToleratedFailureThreshold); its ResultWriter keeps each failed child's
 * Input (its group) and Error and Cause (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html),
 * read here a record at a time. Knows nothing of Lambda.
 */
import { type StepError, stepErrorText } from '../../statemachine/contracts.ts';
import { ReduceGroupFailedError } from '../shared/errors.ts';
import { mapRunExecutions } from '../shared/map-run-results.ts';
import { reduceMapResultsPrefix } from '../shared/run-layout.ts';
import type { Storage } from '../shared/storage/storage.ts';

export interface ReduceMapFailure {
  runId: string;
  output: Storage;
  /** The output location's key prefix in its bucket: the map's manifest names result files by full key. */
  outputPrefix: string;
  /** Groups in the run's plan. */
  groups: number;
  mapError: StepError;
}

/** The error the run fails with: the first failed group's own error, and how many failed or never ran. */
export async function reduceMapFailure({
  runId,
  output,
  outputPrefix,
  groups,
  mapError,
}: ReduceMapFailure): Promise<ReduceGroupFailedError> {
  const failed = new Map<number, string>();
  const succeeded = new Set<number>();
  let pending = 0;
  for await (const { status, execution } of mapRunExecutions(output, outputPrefix, reduceMapResultsPrefix(runId))) {
    const index = groupIndex(execution.Input);
    if (status === 'SUCCEEDED') {
      if (index !== undefined) succeeded.add(index);
    } else if (status === 'PENDING') {
      pending++;
    } else if (index !== undefined && !failed.has(index)) {
      failed.set(index, stepErrorText(execution) || 'no error recorded');
    }
  }
  // A redriven map's later success supersedes an earlier failure of the same group.
  for (const index of succeeded) failed.delete(index);
  const mapText = stepErrorText(mapError) || 'no error recorded';
  const [first] = [...failed].sort(([a], [b]) => a - b);
  if (!first) return new ReduceGroupFailedError(`the reduce of run ${runId} failed (${mapText}); no child's error was recorded`);
  const [index, message] = first;
  const others = [failed.size > 1 ? `${failed.size - 1} more group(s) failed` : '', pending > 0 ? `${pending} never ran` : ''].filter(
    Boolean,
  );
  return new ReduceGroupFailedError(
    `reduce group ${index} of ${groups} of run ${runId} failed after its retries: ${message}` +
      `${others.length > 0 ? ` (${others.join(', ')})` : ''}; nothing was published`,
  );
}

/** The group a child was given (its Input is the ItemBatcher's `{ Items: [group], BatchInput }`), if readable. */
function groupIndex(input: string | undefined): number | undefined {
  try {
    const index = (JSON.parse(input ?? '') as { Items?: [{ index?: unknown }] }).Items?.[0]?.index;
    return typeof index === 'number' ? index : undefined;
  } catch {
    return undefined;
  }
}

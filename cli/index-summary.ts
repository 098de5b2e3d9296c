/** One line saying what an index update did, for `featurize index` and for runs that keep an index up to date. */
import type { IndexUpdate } from '../functions/shared/vectors/vector-index.ts';
import { type StepError, stepErrorText, type UpdateIndexResult } from '../statemachine/contracts.ts';

export function describeIndexUpdate(update: IndexUpdate, location: string): string {
  const what = {
    built: `built: ${update.rows} images`,
    updated: `updated: ${update.partsAdded} part(s) added or changed, ${update.partsRemoved} removed, ${update.rows} images`,
    current: `already current: ${update.rows} images`,
  }[update.action];
  const replaced = update.replacedModel ? ` (replacing an index of ${update.replacedModel})` : '';
  const search = update.ann ? `${update.ann} index` : 'exact search (small enough to scan)';
  return `index ${location} ${what}${replaced}; ${search}`;
}

/**
 * What a run's UpdateIndex step did (its result or its caught error), for the local and the deployed summaries;
 * undefined when it did not run. A failure leaves the run's outcome alone (the ASL catches it), so it is said here.
 */
export function describeIndexStep(result: UpdateIndexResult | null | undefined, error: StepError | null | undefined): string | undefined {
  if (result) return describeIndexUpdate(result, result.location);
  // LanceDB's errors carry their whole chain of causes (`… Caused by: …`): the first says what failed.
  if (error) return `index not updated (the dataset is published): ${stepErrorText(error).split(/\s+Caused by: /)[0]}`;
  return undefined;
}

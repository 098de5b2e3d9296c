/** One line saying what an index update did, for `featurize index` and for runs that keep an index up to date. */
import type { IndexUpdate } from '../functions/shared/vectors/vector-index.ts';

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

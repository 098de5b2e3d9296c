/**
 * An extract function that runs no model: for each batch it writes the shard the real one would, with a
 * deterministic pseudo-random vector per key (map-run.ts's syntheticVector), so that the whole state machine can
 * run over a million rows in minutes (test/scale/). Two settings make it lose data as a faulty extractor would:
 * FEATURIZE_TEST_DROP_KEY leaves that key's row out of its shard, FEATURIZE_TEST_TWICE_KEY writes that key's row twice.
 */
import middy from '@middy/core';
import { intermediateTags } from '../../../functions/shared/run-layout.ts';
import { openStorage } from '../../../functions/shared/storage/open-storage.ts';
import type { BatchEvent, ExtractBatchResult } from '../../../statemachine/contracts.ts';
import { type FixtureItem, syntheticShard } from '../map-run.ts';

async function extractSynthetic(event: BatchEvent): Promise<ExtractBatchResult> {
  const { runId, input, output } = event.BatchInput;
  const items: FixtureItem[] = event.Items.flatMap((item) => {
    if (item.Key === process.env.FEATURIZE_TEST_DROP_KEY) return [];
    return item.Key === process.env.FEATURIZE_TEST_TWICE_KEY ? [{ key: item.Key }, { key: item.Key }] : [{ key: item.Key }];
  });
  const inputStorage = openStorage({ bucket: input.bucket });
  const result = syntheticShard(runId, items, (key) => inputStorage.locationOf(key));
  await openStorage(output).write(result.shard, result.bytes, { tags: intermediateTags });
  return result.output;
}

export const handler = middy(extractSynthetic);

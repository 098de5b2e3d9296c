/**
 * The ItemBatcher: items grouped into the child executions' inputs, `{ Items, BatchInput }`, as Step Functions
 * groups them. A batch closes before the item that would take it past MaxItemsPerBatch, or past
 * MaxInputBytesPerBatch counted as the UTF-8 size of each item's JSON; an item larger than the byte limit on its
 * own still travels, alone in its batch.
 */
import type { Json, JsonObject } from './json.ts';

export interface BatchLimits {
  maxItems?: number;
  maxBytes?: number;
}

export function batchItems(items: readonly Json[], limits: BatchLimits, batchInput?: JsonObject): JsonObject[] {
  const { maxItems = Number.POSITIVE_INFINITY, maxBytes = Number.POSITIVE_INFINITY } = limits;
  const batches: JsonObject[] = [];
  let batch: Json[] = [];
  let bytes = 0;
  const close = () => {
    if (batch.length === 0) return;
    batches.push(batchInput === undefined ? { Items: batch } : { Items: batch, BatchInput: batchInput });
    batch = [];
    bytes = 0;
  };
  for (const item of items) {
    const size = Buffer.byteLength(JSON.stringify(item));
    if (batch.length >= maxItems || bytes + size > maxBytes) close();
    batch.push(item);
    bytes += size;
  }
  close();
  return batches;
}

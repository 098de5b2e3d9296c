import { describe, expect, it } from 'vitest';
import { batchItems } from '../../statemachine/local/item-batcher.ts';

const item = (key: string) => ({ Key: key, Size: 1 });
const sizeOf = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

describe('item batcher', () => {
  it('closes a batch at MaxItemsPerBatch and wraps each as { Items, BatchInput }', () => {
    const items = Array.from({ length: 7 }, (_, i) => item(`k${i}`));
    const batches = batchItems(items, { maxItems: 3 }, { runId: 'r' });
    expect(batches.map((batch) => (batch.Items as unknown[]).length)).toEqual([3, 3, 1]);
    expect(batches[2]).toEqual({ Items: [item('k6')], BatchInput: { runId: 'r' } });
    expect(batches.flatMap((batch) => batch.Items)).toEqual(items);
  });

  it('leaves BatchInput out when the ItemBatcher has none', () => {
    expect(batchItems([item('a')], { maxItems: 5 })).toEqual([{ Items: [item('a')] }]);
  });

  it("closes a batch before the item that would take its items' JSON past MaxInputBytesPerBatch, counting UTF-8 bytes", () => {
    const items = [item('aaaa'), item('ü/é'), item('b'), item('c')];
    const limit = sizeOf(items[0]) + sizeOf(items[1]);
    expect(sizeOf(items[1])).toBeGreaterThan(JSON.stringify(items[1]).length);
    const batches = batchItems(items, { maxBytes: limit });
    expect(batches.map((batch) => batch.Items)).toEqual([
      [items[0], items[1]],
      [items[2], items[3]],
    ]);
    expect(batchItems(items, { maxBytes: limit - 1 }).map((batch) => (batch.Items as unknown[]).length)).toEqual([1, 2, 1]);
  });

  it('applies whichever limit is reached first', () => {
    const items = Array.from({ length: 6 }, (_, i) => item(`k${i}`));
    expect(batchItems(items, { maxItems: 4, maxBytes: 2 * sizeOf(items[0]) }).map((b) => (b.Items as unknown[]).length)).toEqual([2, 2, 2]);
    expect(batchItems(items, { maxItems: 2, maxBytes: 10_000 }).map((b) => (b.Items as unknown[]).length)).toEqual([2, 2, 2]);
  });

  it('sends an item larger than the byte limit alone in its batch', () => {
    const big = item('x'.repeat(100));
    expect(batchItems([item('a'), big, item('b')], { maxBytes: 50 }).map((b) => b.Items)).toEqual([[item('a')], [big], [item('b')]]);
  });

  it('makes no batch of no items', () => {
    expect(batchItems([], { maxItems: 10 })).toEqual([]);
  });
});

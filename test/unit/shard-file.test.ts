import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { datasetRows, encodeShard, readShardVectors, type ShardRow } from '../../functions/shared/shards/shard-file.ts';
import { decodeShard } from '../support/shard-rows.ts';

const metadata = { runId: 'r1', batchId: 'b1', modelId: 'm@1', engine: 'tfjs/wasm', preprocessing: '{"size":224}' };

describe('shard files', () => {
  it('round-trip vectors bit for bit, failures with their code, and the metadata', () => {
    const vector = Float32Array.from({ length: 8 }, (_, i) => i / 3);
    const rows: ShardRow[] = [
      { path: 's3://b/Kiwi/1.jpg', label: 'Kiwi', size: 12, etag: 'abc', sha256: 'f'.repeat(64), features: vector, failure: null },
      {
        path: '/x/Lemon/ünï code.jpg',
        label: 'Lemon',
        size: 0,
        etag: null,
        sha256: 'e'.repeat(64),
        features: null,
        failure: { code: 'EMPTY', message: 'the object has 0 bytes' },
      },
      { path: 's3://b/Kiwi/2.jpg', label: 'Kiwi', size: 2 ** 40, etag: null, sha256: null, features: vector.map((v) => -v), failure: null },
    ];
    const decoded = decodeShard(encodeShard(rows, 8, metadata));
    expect(decoded.metadata).toEqual(metadata);
    expect(decoded.rows).toEqual(rows);
  });

  it('refuses a vector of the wrong length', () => {
    const row: ShardRow = { path: 'p', label: 'l', size: 1, etag: null, sha256: null, features: new Float32Array(3), failure: null };
    expect(() => encodeShard([row], 8, metadata)).toThrow(/3 features, expected 8/);
  });

  it('writes an empty shard that reads back empty', () => {
    expect(decodeShard(encodeShard([], 8, metadata)).rows).toEqual([]);
  });

  describe('as the reducer reads them (readShardVectors)', () => {
    const vectorRow = (i: number): ShardRow => ({
      path: `/x/Kiwi/${i}.jpg`,
      label: 'Kiwi',
      size: i,
      etag: i % 2 ? 'e' : null,
      sha256: String(i).padStart(64, '0'),
      features: Float32Array.from({ length: 8 }, (_, j) => i + j / 8),
      failure: null,
    });
    const failureRow = (i: number, vector = false): ShardRow => ({
      ...vectorRow(i),
      ...(vector ? {} : { features: null, sha256: null }),
      failure: { code: 'CORRUPT', message: `bad ${i}` },
    });

    it('gives the rows with a vector, cut into runs by the failures, over the shard buffers, and the failures apart', () => {
      // A failure that also carries a vector (never written, but possible in a foreign file) stays a failure.
      const rows = [failureRow(0), vectorRow(1), vectorRow(2), failureRow(3, true), vectorRow(4), failureRow(5), failureRow(6)];
      const read = readShardVectors(encodeShard(rows, 8, metadata));
      expect(read.metadata).toEqual(metadata);
      expect(read.incomplete).toBeUndefined();
      expect(read.malformed).toBeUndefined();
      expect(read.batches.map((batch) => batch.numRows)).toEqual([2, 1]);
      expect(read.batches.map((batch) => batch.schema.fields.map((field) => `${field.name}${field.nullable ? '?' : ''}`))).toEqual([
        ['path', 'label', 'size', 'etag?', 'sha256', 'features'],
        ['path', 'label', 'size', 'etag?', 'sha256', 'features'],
      ]);
      expect(read.batches.flatMap((batch) => datasetRows(batch))).toEqual(
        [1, 2, 4].map((i) => {
          const { failure: _, ...row } = vectorRow(i);
          return row;
        }),
      );
      expect(read.failures).toEqual([0, 3, 5, 6].map((i) => ({ path: `/x/Kiwi/${i}.jpg`, code: 'CORRUPT', message: `bad ${i}` })));
    });

    it('takes a shard without failures whole, and names the first row with neither a vector and its hash nor a failure', () => {
      expect(readShardVectors(encodeShard([vectorRow(1), vectorRow(2)], 8, metadata)).batches.map((b) => b.numRows)).toEqual([2]);
      const noHash = { ...vectorRow(3), sha256: null };
      const read = readShardVectors(encodeShard([vectorRow(1), noHash, { ...vectorRow(4), features: null }], 8, metadata));
      expect(read.incomplete).toBe('/x/Kiwi/3.jpg');
    });

    it('names what is wrong with a file that is not a shard: not Arrow at all, or a column missing', () => {
      expect(readShardVectors(new TextEncoder().encode('{"not":"arrow"}')).malformed).toMatch(/^not an Arrow IPC file: /);
      const arrow = tableToIPC(tableFromArrays({ path: ['/x/Kiwi/1.jpg'], label: ['Kiwi'] }), 'file');
      expect(readShardVectors(arrow).malformed).toBe('not a shard: no size, etag, sha256, features, error_code, error_message column');
    });
  });
});

import { describe, expect, it } from 'vitest';
import { decodeShard, encodeShard, type ShardRow } from '../../functions/shared/shards/shard-file.ts';

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
});

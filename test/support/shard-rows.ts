/**
 * A shard's every row, as the tests read what the extract function wrote: its vectors copied out of the file.
 * (The pipeline itself reads shards as record batches over their own buffers: readShardVectors.)
 */
import { tableFromIPC } from 'apache-arrow';
import type { FailureCode } from '../../functions/shared/failures.ts';
import type { ShardMetadata, ShardRow } from '../../functions/shared/shards/shard-file.ts';

export interface DecodedShard {
  metadata: ShardMetadata;
  rows: ShardRow[];
}

export function decodeShard(bytes: Uint8Array): DecodedShard {
  const table = tableFromIPC(bytes);
  const metadata = Object.fromEntries(table.schema.metadata) as unknown as ShardMetadata;
  const rows: ShardRow[] = [];
  const column = <T>(name: string) => table.getChild(name) as unknown as { get(i: number): T };
  const [path, label, size, etag, sha256, features, code, message] = [
    column<string>('path'),
    column<string>('label'),
    column<bigint>('size'),
    column<string | null>('etag'),
    column<string | null>('sha256'),
    column<{ toArray(): Float32Array } | null>('features'),
    column<string | null>('error_code'),
    column<string | null>('error_message'),
  ];
  for (let i = 0; i < table.numRows; i++) {
    const vector = features.get(i);
    const failureCode = code.get(i);
    rows.push({
      path: path.get(i),
      label: label.get(i),
      size: Number(size.get(i)),
      etag: etag.get(i),
      sha256: sha256.get(i),
      features: vector ? Float32Array.from(vector.toArray()) : null,
      failure: failureCode ? { code: failureCode as FailureCode, message: message.get(i) ?? '' } : null,
    });
  }
  return { metadata, rows };
}

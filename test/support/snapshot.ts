/**
 * Every object under a prefix as key -> SHA-256 of its bytes: two snapshots are equal exactly when the same
 * keys hold the same bytes (what "features/ is left as it was" means).
 */
import { createHash } from 'node:crypto';
import type { Storage } from '../../functions/shared/storage/storage.ts';

export async function snapshot(storage: Storage, prefix: string): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  for await (const object of storage.list(prefix)) {
    hashes[object.key] = createHash('sha256')
      .update(await storage.read(object.key))
      .digest('hex');
  }
  return hashes;
}

/**
 * Accounting of paths without holding them: a multiset of paths as its count and the sum of its paths' 128-bit
 * hashes (SHA-256 truncated) modulo 2^128. The sum does not depend on order, so a listing, a run's rows and its
 * failure records, each streamed in whatever order they come, can be compared: equal digests mean the same
 * paths, each as often, except with probability about 2^-128 per differing path. A path missing and another
 * present twice changes the sum; a path present twice changes the count.
 *
 * When digests differ, `narrowDown` finds which paths differ while holding only a small share: digests per folder
 * first, then per 256th of each differing folder (by hash), then the paths of the differing 256ths alone.
 */
import { createHash } from 'node:crypto';

const modulus = 1n << 128n;

/** The path's first 128 bits of SHA-256, as an unsigned integer. */
export function pathHash(path: string): bigint {
  const digest = createHash('sha256').update(path).digest();
  return (digest.readBigUInt64BE(0) << 64n) | digest.readBigUInt64BE(8);
}

/** The path without its last segment: the folder its label comes from. */
export function folderOf(path: string): string {
  return path.slice(0, Math.max(0, path.lastIndexOf('/')));
}

interface Digest {
  count: number;
  sum: bigint;
}

/** Digests by group: [count, sum as hexadecimal]. */
export type SerializedDigests = Record<string, [number, string]>;

/** Digests of a multiset of paths, one per group (`groupOf`), and their total. */
export class PathDigests {
  readonly total: Digest = { count: 0, sum: 0n };
  private readonly groups = new Map<string, Digest>();
  private readonly groupOf: (path: string, hash: bigint) => string;

  constructor(groupOf: (path: string, hash: bigint) => string = folderOf) {
    this.groupOf = groupOf;
  }

  add(path: string): void {
    const hash = pathHash(path);
    this.addToGroup(this.groupOf(path, hash), 1, hash);
  }

  /** Adds another's paths to these (digests of the same grouping): the run's digests summed from its parts'. */
  merge(other: PathDigests): void {
    for (const [key, digest] of other.groups) this.addToGroup(key, digest.count, digest.sum);
  }

  /** Per group: its count and its sum in hexadecimal, as a part's audit stores them. */
  toJSON(): SerializedDigests {
    return Object.fromEntries([...this.groups].map(([key, { count, sum }]) => [key, [count, sum.toString(16)]]));
  }

  static fromJSON(serialized: SerializedDigests, groupOf?: (path: string, hash: bigint) => string): PathDigests {
    const digests = new PathDigests(groupOf);
    for (const [key, [count, sum]] of Object.entries(serialized)) digests.addToGroup(key, count, BigInt(`0x${sum}`) % modulus);
    return digests;
  }

  private addToGroup(key: string, count: number, sum: bigint): void {
    let group = this.groups.get(key);
    if (!group) this.groups.set(key, (group = { count: 0, sum: 0n }));
    for (const digest of [group, this.total]) {
      digest.count += count;
      digest.sum = (digest.sum + sum) % modulus;
    }
  }

  /** The groups whose digests differ between the two. */
  differingGroups(other: PathDigests): Set<string> {
    const differing = new Set<string>();
    for (const key of new Set([...this.groups.keys(), ...other.groups.keys()])) {
      const a = this.groups.get(key);
      const b = other.groups.get(key);
      if (a?.count !== b?.count || a?.sum !== b?.sum) differing.add(key);
    }
    return differing;
  }
}

/** Paths of a source, streamed anew on each call (a listing, a run's rows and failure records). */
export type PathSource = () => AsyncIterable<string>;

/** What differs in a group: expected paths (a set: a listing names a path once) and the placed paths with their counts. */
export interface HeldPaths {
  expected: Set<string>;
  placed: Map<string, number>;
}

/** A 256th of a folder: the folder and the hash's top byte. */
function shareOf(path: string, hash: bigint): string {
  return `${folderOf(path)}\n${hash >> 120n}`;
}

/**
 * The paths of the groups (folders) whose digests differ, found in three more passes over each source and holding
 * only the paths of the 256ths of folders that differ: a missing or extra path is held with the few hundred
 * others of its share, never with the whole run.
 */
export async function narrowDown(expected: PathSource, placed: PathSource, differingFolders: ReadonlySet<string>): Promise<HeldPaths> {
  const expectedShares = new PathDigests(shareOf);
  const placedShares = new PathDigests(shareOf);
  for await (const path of expected()) if (differingFolders.has(folderOf(path))) expectedShares.add(path);
  for await (const path of placed()) if (differingFolders.has(folderOf(path))) placedShares.add(path);
  const shares = expectedShares.differingGroups(placedShares);
  const inShares = (path: string) => differingFolders.has(folderOf(path)) && shares.has(shareOf(path, pathHash(path)));

  const held: HeldPaths = { expected: new Set(), placed: new Map() };
  for await (const path of expected()) if (inShares(path)) held.expected.add(path);
  for await (const path of placed()) if (inShares(path)) held.placed.set(path, (held.placed.get(path) ?? 0) + 1);
  return held;
}

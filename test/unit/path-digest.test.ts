import { describe, expect, it } from 'vitest';
import { folderOf, narrowDown, PathDigests, pathHash } from '../../functions/shared/dataset/path-digest.ts';

const paths = Array.from({ length: 5_000 }, (_, i) => `s3://fruits/images/Label ${i % 10}/${i}.jpg`);
const digestOf = (list: readonly string[]) => {
  const digests = new PathDigests();
  for (const path of list) digests.add(path);
  return digests;
};
const source = (list: readonly string[]) =>
  async function* () {
    yield* list;
  };

describe('path digests', () => {
  it('hashes a path to 128 bits, the first half of its SHA-256', () => {
    // sha256("a") = ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb
    expect(pathHash('a')).toBe(0xca978112ca1bbdcafac231b39a23dc4dn);
    expect(pathHash('s3://fruits/x.jpg')).toBeLessThan(1n << 128n);
  });

  it('does not depend on the order the paths come in', () => {
    const shuffled = [...paths].sort(() => Math.random() - 0.5);
    expect(digestOf(paths).differingGroups(digestOf(shuffled))).toEqual(new Set());
    expect(digestOf(paths).total).toEqual(digestOf(shuffled).total);
  });

  it("sums parts' digests, also through their JSON form, into the digests of the whole", () => {
    const whole = digestOf(paths);
    const summed = new PathDigests();
    for (let start = 0; start < paths.length; start += 97) {
      const part = digestOf(paths.slice(start, start + 97));
      summed.merge(PathDigests.fromJSON(JSON.parse(JSON.stringify(part))));
    }
    expect(summed.total).toEqual(whole.total);
    expect(whole.differingGroups(summed)).toEqual(new Set());
  });

  it('tells a missing path replaced by a duplicate of another, though the counts agree, and names the folders', () => {
    const changed = [...paths.filter((path) => path !== paths[42]), paths[7]!];
    const listed = digestOf(paths);
    const placed = digestOf(changed);
    expect(placed.total.count).toBe(listed.total.count);
    expect(placed.total.sum).not.toBe(listed.total.sum);
    expect(listed.differingGroups(placed)).toEqual(new Set([folderOf(paths[42]!), folderOf(paths[7]!)]));
  });

  it('narrows down to the differing paths, holding only a 256th of each differing folder', async () => {
    const changed = [...paths.filter((path) => path !== paths[42]), paths[7]!];
    const differing = digestOf(paths).differingGroups(digestOf(changed));

    const held = await narrowDown(source(paths), source(changed), differing);

    expect(held.expected.has(paths[42]!)).toBe(true);
    expect(held.placed.has(paths[42]!)).toBe(false);
    expect(held.placed.get(paths[7]!)).toBe(2);
    // Two folders of 500 paths each: a 256th of each is a handful, not the folders, and never the run.
    expect(held.expected.size).toBeLessThan(20);
    expect(held.placed.size).toBeLessThan(20);
  });
});

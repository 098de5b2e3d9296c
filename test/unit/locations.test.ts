import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { separationProblem } from '../../functions/shared/storage/locations.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'locations-'));
  await mkdir(join(dir, 'input', 'Kiwi'), { recursive: true });
  await symlink(join(dir, 'input', 'Kiwi'), join(dir, 'link-to-existing'));
  await symlink(join(dir, 'input', 'not-yet'), join(dir, 'dangling-link'));
  await symlink(join(dir, 'dangling-link'), join(dir, 'link-to-link'));
  await symlink(join(dir, 'loop-b'), join(dir, 'loop-a'));
  await symlink(join(dir, 'loop-a'), join(dir, 'loop-b'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const folder = (path: string) => ({ bucket: join(dir, path), prefix: '' });

describe('separationProblem', () => {
  it.each([
    ['an output inside the input', 'input/out'],
    ['an input inside the output', '.'],
    ['an output through a link into the input', 'link-to-existing'],
    ['an output through a link whose target does not exist yet', 'dangling-link/out'],
    ['an output through a chain of links', 'link-to-link'],
  ])('refuses %s', (_, output) => {
    expect(separationProblem(folder('input'), folder(output))).toMatch(
      /^the output .* and the input .* overlap \(one contains the other\)/,
    );
  });

  it.each([
    ['a sibling folder', 'out'],
    ['a sibling whose name starts with the input’s', 'input2'],
    ['a loop of links', 'loop-a'],
  ])('accepts %s', (_, output) => {
    expect(separationProblem(folder('input'), folder(output))).toBeUndefined();
  });

  it('compares S3 locations by bucket and whole prefix', () => {
    const s3 = (bucket: string, prefix: string) => ({ bucket, prefix });
    expect(separationProblem(s3('fruits', 'images/'), s3('fruits', 'images/out/'))).toBeDefined();
    expect(separationProblem(s3('fruits', 'images/'), s3('fruits', ''))).toBeDefined();
    expect(separationProblem(s3('fruits', 'images/'), s3('fruits', 'images-out/'))).toBeUndefined();
    expect(separationProblem(s3('fruits', 'images/'), s3('other', 'images/'))).toBeUndefined();
  });
});

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TailBench } from '../../bench/tail.ts';

const run = promisify(execFile);
const script = new URL('../../bench/tail.ts', import.meta.url).pathname;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bench-tail-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('bench:tail', () => {
  it('runs the reduce fan-out, validate and publish over synthetic shards, each invocation in its own process, and writes their figures', async () => {
    const json = join(dir, 'tail.json');

    // Parts of 100 rows: the synthetic run's 250 rows (batches of 100) make three groups, three children.
    await run(process.execPath, [script, '--rows', '250', '--json', json], { env: { ...process.env, FEATURIZE_PART_ROWS: '100' } });

    const bench = JSON.parse(await readFile(json, 'utf8')) as TailBench;
    expect(bench.rows).toBe(250);
    expect(bench.steps.map((step) => step.name)).toEqual(['planReduce', 'reducePart', 'auditPart', 'finishReduce', 'validate', 'publish']);
    for (const step of bench.steps) {
      expect(Object.keys(step).sort()).toEqual(['children', 'maxChildPeakMiB', 'maxChildSeconds', 'name', 'seconds']);
      expect(step.children).toBe(step.name === 'reducePart' || step.name === 'auditPart' ? 3 : 1);
      // A child's peak is a Node process's: more than its baseline, far less than this machine's memory.
      expect(step.maxChildPeakMiB).toBeGreaterThan(30);
      expect(step.maxChildPeakMiB).toBeLessThan(2048);
      expect(step.maxChildSeconds).toBeGreaterThan(0);
      expect(step.seconds).toBeGreaterThanOrEqual(step.maxChildSeconds);
    }
  }, 120_000);
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchFailureMessage, readMapResults } from '../../functions/plan-reduce/map-results.ts';
import { openStorage } from '../../functions/shared/storage/open-storage.ts';
import type { Storage } from '../../functions/shared/storage/storage.ts';
import { items, writeMapRun } from '../support/map-run.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'map-results-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('batchFailureMessage', () => {
  it("keeps a Lambda error's message from its Cause, not its stack trace", () => {
    const cause = JSON.stringify({
      errorType: 'ModelLoadError',
      errorMessage: 'no model.json in /opt/model/tfjs',
      trace: ['ModelLoadError: …', '    at …'],
    });
    expect(batchFailureMessage({ Error: 'ModelLoadError', Cause: cause })).toBe('ModelLoadError: no model.json in /opt/model/tfjs');
  });

  it('keeps a plain-text cause and shortens a long one to 300 characters', () => {
    expect(batchFailureMessage({ Error: 'States.Timeout', Cause: 'Task timed out' })).toBe('States.Timeout: Task timed out');
    const long = batchFailureMessage({ Error: 'Lambda.Unknown', Cause: 'x'.repeat(1000) });
    expect(long).toHaveLength(300);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('readMapResults', () => {
  it('merges the map runs of a redriven map: a batch that succeeded on redrive is no failure', async () => {
    const output = { bucket: join(dir, 'redriven'), prefix: '' };
    const input = { bucket: join(dir, 'input') };
    const retried = items(['Kiwi/1.jpg', 'Kiwi/2.jpg']);
    const error = { Error: 'Sandbox.Timedout', Cause: 'Task timed out after 300.00 seconds' };
    await writeMapRun({
      runId: 'r',
      input,
      output,
      mapRunId: 'first',
      batches: [
        { status: 'FAILED', items: retried, error },
        { status: 'SUCCEEDED', items: items(['Lemon/3.jpg']) },
      ],
    });
    await writeMapRun({
      runId: 'r',
      input,
      output,
      mapRunId: 'redrive',
      batches: [
        { status: 'SUCCEEDED', items: retried },
        { status: 'FAILED', items: items(['Pear/4.jpg']), error },
      ],
    });

    const results = await readMapResults(openStorage(output), '', 'r');

    expect(results.succeeded).toHaveLength(2);
    expect(results.failures.map((failure) => failure.path)).toEqual([join(dir, 'input', 'Pear/4.jpg')]);
    expect(results.listed).toBe(4);
  });

  it('refuses a result of another run, naming the file', async () => {
    const output = { bucket: join(dir, 'foreign'), prefix: '' };
    await writeMapRun({
      runId: 'other',
      input: { bucket: join(dir, 'input') },
      output,
      batches: [{ status: 'SUCCEEDED', items: items(['Kiwi/1.jpg']) }],
    });
    const storage = openStorage(output);
    for await (const object of storage.list('runs/other/map'))
      await storage.write(object.key.replace('runs/other/', 'runs/mine/'), await storage.read(object.key));
    await storage.write(
      'runs/mine/map/4b9a5f27-090b-3ac6-9beb-243cd77144a7/manifest.json',
      Buffer.from(await storage.read('runs/mine/map/4b9a5f27-090b-3ac6-9beb-243cd77144a7/manifest.json'))
        .toString()
        .replaceAll('runs/other/', 'runs/mine/'),
    );

    await expect(readMapResults(storage, '', 'mine')).rejects.toMatchObject({
      name: 'RunArtifactError',
      message: expect.stringMatching(/SUCCEEDED_0\.json line 1 holds a batch of run other, not mine/),
    });
  });

  it('streams each result file a line at a time: no result file is ever read whole', async () => {
    const output = { bucket: join(dir, 'streamed'), prefix: '' };
    const batches = Array.from({ length: 300 }, (_, i) => ({
      status: 'SUCCEEDED' as const,
      items: items([`Fig/${String(i).padStart(4, '0')}.jpg`]),
    }));
    await writeMapRun({ runId: 'r', input: { bucket: join(dir, 'input') }, output, batches });
    const storage = openStorage(output);
    const wholeReads: string[] = [];
    const streamed: string[] = [];
    const watched: Storage = Object.assign(Object.create(storage) as Storage, {
      read: (key: string) => {
        wholeReads.push(key);
        return storage.read(key);
      },
      readStream: (key: string) => {
        streamed.push(key);
        return storage.readStream(key);
      },
    });

    const results = await readMapResults(watched, '', 'r');

    expect(results.succeeded).toHaveLength(300);
    expect(streamed).toEqual([expect.stringMatching(/SUCCEEDED_0\.json$/)]);
    expect(wholeReads).toEqual([expect.stringMatching(/manifest\.json$/)]);
  });

  it('names the file and line of a record that is not JSON', async () => {
    const output = { bucket: join(dir, 'torn'), prefix: '' };
    await writeMapRun({
      runId: 'r',
      input: { bucket: join(dir, 'input') },
      output,
      batches: [
        { status: 'SUCCEEDED', items: items(['Kiwi/1.jpg']) },
        { status: 'SUCCEEDED', items: items(['Kiwi/2.jpg']) },
      ],
    });
    const storage = openStorage(output);
    const key = 'runs/r/map/4b9a5f27-090b-3ac6-9beb-243cd77144a7/SUCCEEDED_0.json';
    const [first] = Buffer.from(await storage.read(key))
      .toString()
      .split('\n');
    await storage.write(key, `${first}\n{"ExecutionArn": "cut off\n`);

    await expect(readMapResults(storage, '', 'r')).rejects.toMatchObject({
      name: 'RunArtifactError',
      message: expect.stringMatching(/SUCCEEDED_0\.json line 2 is not JSON/),
    });
  });
});

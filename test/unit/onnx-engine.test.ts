import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onnxModelPath, onnxRuntimeSettings } from '../../functions/shared/config.ts';
import { loadModelDescriptor, normalizePixels } from '../../functions/shared/model/model-descriptor.ts';
import { createOnnxEngine } from '../../functions/shared/model/onnx-engine.ts';
import { decodeModel, encodeModel } from '../../functions/shared/model/onnx-schema.ts';
import { maxAbsDifference, modelDir, referenceCases } from '../support/shared-data.ts';

/** The export made by the global setup for this test run. */
const exported = process.env.FEATURIZE_ONNX_MODEL!;
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'onnx-engine-'));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe('the ONNX engine', () => {
  it('tells the user to run `npm run build:onnx` when the export is missing', async () => {
    const modelPath = join(scratch, 'never-exported.onnx');
    await expect(createOnnxEngine(modelDir, { modelPath })).rejects.toMatchObject({
      name: 'ModelLoadError',
      message: expect.stringContaining(`${modelPath}: run \`npm run build:onnx\``),
    });
  });

  it('refuses an export made from another model.json, rather than recording the wrong model', async () => {
    const model = decodeModel(await readFile(exported));
    model.metadata_props = [{ key: 'featurize.source_model', value: 'some_other_model@0123456789ab' }];
    const modelPath = join(scratch, 'stale.onnx');
    await writeFile(modelPath, encodeModel(model));
    await expect(createOnnxEngine(modelDir, { modelPath })).rejects.toMatchObject({
      name: 'ModelLoadError',
      message: expect.stringMatching(/exported from some_other_model@0123456789ab, not from the model in .*npm run build:onnx/),
    });
  });

  it('gives the oracle vectors with graph optimisation off: the export is right as written, not only once rewritten', async () => {
    const session = { ...onnxRuntimeSettings({}), graphOptimization: 'disabled' as const };
    const engine = await createOnnxEngine(modelDir, { modelPath: exported, session });
    try {
      const cases = (await referenceCases()).slice(0, 3);
      const vectors = await engine.extract(cases.map((c) => c.pixels));
      vectors.forEach((vector, i) => {
        expect(maxAbsDifference(vector, cases[i]!.features)).toBeLessThanOrEqual(1e-4);
      });
    } finally {
      engine.dispose();
    }
  });
});

describe('the input tensor', () => {
  it('holds (p − mean) / scale rounded to float32 for every byte value, into a given buffer or a new one', async () => {
    const descriptor = { ...(await loadModelDescriptor(modelDir)), inputSize: 16, normalization: { mean: 127.5, scale: 127.5 } };
    const perImage = 16 * 16 * 3;
    const images = [0, 1].map((i) => Uint8Array.from({ length: perImage }, (_, j) => (j + i * 7) % 256));
    const expected = Float32Array.from(images.flatMap((pixels) => [...pixels].map((p) => (p - 127.5) / 127.5)));
    expect(normalizePixels(images, descriptor)).toEqual(expected);
    const into = new Float32Array(2 * perImage).fill(Number.NaN);
    expect(normalizePixels(images, descriptor, into)).toBe(into);
    expect(into).toEqual(expected);
    expect(() => normalizePixels(images, descriptor, new Float32Array(perImage))).toThrow(RangeError);
  });

  it('gives the same vectors, bit for bit, batch after batch and for calls made at once', async () => {
    const engine = await createOnnxEngine(modelDir, { modelPath: exported });
    try {
      const pixels = (await referenceCases()).slice(0, 3).map((c) => c.pixels);
      const reversed = [...pixels].reverse();
      const first = await engine.extract(pixels);
      const firstReversed = await engine.extract(reversed);
      // A smaller mini-batch runs on a view of the larger buffer: ONNX Runtime must read that view, not the whole.
      expect(await engine.extract(pixels.slice(0, 2))).toEqual(first.slice(0, 2));
      expect(await engine.extract(pixels)).toEqual(first);
      // The second call's pixels must not land in the buffer the first call's pending run reads.
      const [together, togetherReversed] = await Promise.all([engine.extract(pixels), engine.extract(reversed)]);
      expect(together).toEqual(first);
      expect(togetherReversed).toEqual(firstReversed);
    } finally {
      engine.dispose();
    }
  });
});

describe('ONNX settings', () => {
  it('look for build/models/<model name>.onnx in the checkout unless FEATURIZE_ONNX_MODEL says otherwise', () => {
    expect(onnxModelPath('mobilenet', {})).toBe(join(import.meta.dirname, '..', '..', 'build', 'models', 'mobilenet.onnx'));
    expect(onnxModelPath('mobilenet', { FEATURIZE_ONNX_MODEL: '/opt/model/onnx/model.onnx' })).toBe('/opt/model/onnx/model.onnx');
  });

  it('read the session options from FEATURIZE_ORT_* and name the variable of a bad value', () => {
    expect(
      onnxRuntimeSettings({
        FEATURIZE_ORT_INTRA_OP_THREADS: '3',
        FEATURIZE_ORT_INTER_OP_THREADS: '2',
        FEATURIZE_ORT_GRAPH_OPTIMIZATION: 'basic',
        FEATURIZE_ORT_EXECUTION_MODE: 'parallel',
        FEATURIZE_ORT_MEMORY_ARENA: 'false',
        FEATURIZE_ORT_SPINNING: 'true',
      }),
    ).toEqual({
      intraOpThreads: 3,
      interOpThreads: 2,
      graphOptimization: 'basic',
      executionMode: 'parallel',
      memoryArena: false,
      spinning: true,
    });
    expect(() => onnxRuntimeSettings({ FEATURIZE_ORT_GRAPH_OPTIMIZATION: 'max' })).toThrow(
      expect.objectContaining({ name: 'ConfigError', message: expect.stringContaining('FEATURIZE_ORT_GRAPH_OPTIMIZATION') }),
    );
  });

  it('give an engine in a worker thread one intra-op thread, and one on a main thread every core', async () => {
    const config = join(import.meta.dirname, '..', '..', 'functions', 'shared', 'config.ts');
    const threadsIn = `import(${JSON.stringify(config)}).then((c) => c.onnxRuntimeSettings({}).intraOpThreads)`;
    const inWorker = await new Promise((resolve, reject) => {
      const worker = new Worker(`${threadsIn}.then((n) => require('node:worker_threads').parentPort.postMessage(n))`, { eval: true });
      worker.once('message', (n) => void worker.terminate().then(() => resolve(n)));
      worker.once('error', reject);
    });
    const inMainThread = execFileSync(process.execPath, ['-e', `${threadsIn}.then((n) => process.stdout.write(String(n)))`], {
      encoding: 'utf8',
    });
    expect({ inWorker, inMainThread }).toEqual({ inWorker: 1, inMainThread: String(availableParallelism()) });
  });

  // ONNX Runtime's own default (0: one thread per physical core, as its CPU detection counts them) gave one thread on
  // this 2-vCPU VM, so the extract function's path used one core for inference: so the engine names the number.
  it('run an engine on a main thread on every core: ONNX Runtime starts a pool thread for each beyond the first', () => {
    const threadsWith = (env: NodeJS.ProcessEnv) =>
      Number(
        execFileSync(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `import { readdirSync } from 'node:fs';
             const { createOnnxEngine } = await import(${JSON.stringify(join(import.meta.dirname, '..', '..', 'functions', 'shared', 'model', 'onnx-engine.ts'))});
             const engine = await createOnnxEngine(${JSON.stringify(modelDir)}, { modelPath: ${JSON.stringify(process.env.FEATURIZE_ONNX_MODEL)} });
             process.stdout.write(String(readdirSync('/proc/self/task').length));`,
          ],
          { encoding: 'utf8', env: { ...process.env, ...env } },
        ),
      );
    expect(threadsWith({}) - threadsWith({ FEATURIZE_ORT_INTRA_OP_THREADS: '1' })).toBe(availableParallelism() - 1);
  });
});

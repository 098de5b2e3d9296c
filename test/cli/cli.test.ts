import { cp, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { featurize, startFeaturize } from '../support/cli.ts';
import { sampleDir, sampleKeys } from '../support/shared-data.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cli-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** One line on stderr, nothing on stdout, a non-zero exit. */
function expectOneLineFailure(result: { code: number; stdout: string; stderr: string }, message: RegExp) {
  expect(result.code).not.toBe(0);
  expect(result.stdout).toBe('');
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(message);
}

describe('featurize command line', () => {
  it.each([[[]], [['--help']]])('lists its commands (%j)', async (args) => {
    const result = await featurize(args);
    expect(result.stdout + result.stderr).toMatch(
      /Usage: featurize .*\n[\s\S]*run \[options\] \[input\][\s\S]*inspect \[options\] <dataset>/,
    );
  });

  it('documents every option of run', async () => {
    const result = await featurize(['run', '--help']);
    expect(result.code).toBe(0);
    for (const option of [
      '--out',
      '--s3-endpoint',
      '--batch-size',
      '--max-concurrency',
      '--tolerated-failure-percent',
      '--workers',
      '--resize',
      '--model',
      '--engine',
      '--max-pixels',
      '--pca',
      '--pca-model',
      '--index',
      '--no-index',
    ]) {
      expect(result.stdout).toContain(option);
    }
    expect(result.stdout).toContain('fruits-360-sample');
    expect(result.stdout).toMatch(/"squash",\s+"center-crop"/);
  });

  it('documents inspect', async () => {
    const result = await featurize(['inspect', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('<dataset>');
  });

  it.each([
    [['run', '--workers', '0'], /option '--workers <n>' argument '0' is invalid. expected a whole number of at least 1/],
    [['run', '--batch-size', '12x'], /option '--batch-size <n>' argument '12x' is invalid/],
    [['run', '--tolerated-failure-percent', '101'], /argument '101' is invalid. expected a whole percentage from 0 to 100/],
    [['run', '--tolerated-failure-percent', '2.5'], /argument '2.5' is invalid. expected a whole percentage from 0 to 100/],
    [['run', '--resize', 'stretch'], /argument 'stretch' is invalid. Allowed choices are squash, center-crop/],
    [['run', '--engine', 'pytorch'], /argument 'pytorch' is invalid. Allowed choices are /],
    [['run', '--s3-endpoint', 'localhost:9000'], /expected an http:\/\/ or https:\/\/ URL/],
    [['run', '--pca', '1.5'], /option '--pca <setting>' argument '1.5' is invalid. invalid PCA setting "1.5"/],
    [
      ['run', '--pca', '0.9', '--pca-model', 's3://b/pca/m/model.json'],
      /option '--pca-model <uri>' cannot be used with option '--pca <setting>'/,
    ],
    [['run', '--bogus'], /unknown option '--bogus'/],
    [['inspect'], /missing required argument 'dataset'/],
  ])('refuses %j with one line', async (args, message) => {
    expectOneLineFailure(await featurize(args), message);
  });

  it('refuses a missing input folder before anything starts', async () => {
    const result = await featurize(['run', join(dir, 'no-such-folder'), '--out', join(dir, 'out')]);
    expectOneLineFailure(result, /^featurize: no input folder at .*no-such-folder$/m);
  });

  it('refuses an output inside the input, whose files the next run would list as images', async () => {
    const result = await featurize(['run', dir, '--out', join(dir, 'out')]);
    expectOneLineFailure(result, /the output .* and the input .* overlap \(one contains the other\).*choose --out elsewhere/);
  });

  it('refuses a missing model directory before anything starts', async () => {
    const result = await featurize(['run', dir, '--out', join(tmpdir(), 'never-written'), '--model', join(dir, 'no-model')]);
    expectOneLineFailure(result, /no model\.json in .*no-model/);
  });

  it('exports the model to ONNX before the first run that needs it, and runs on it', async () => {
    const input = join(dir, 'two-images');
    for (const key of await sampleKeys(1, 2)) await cp(join(sampleDir, key), join(input, key), { recursive: true });
    const onnxFile = join(dir, 'exported', 'model.onnx');
    const env = { FEATURIZE_ENGINE: 'onnx', FEATURIZE_ONNX_MODEL: onnxFile };

    const first = await featurize(['run', input, '--out', join(dir, 'two-out')], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(
      /^featurize: exported mobilenet_v2_100_224_qat_tfjs@[0-9a-f]{12} to ONNX for the onnx engine: .*model\.onnx$/m,
    );
    expect((await stat(onnxFile)).size).toBeGreaterThan(1e6);
    expect(first.stdout).toContain('images:   2 listed, 2 vectors, 0 failures');

    const second = await featurize(['run', input, '--out', join(dir, 'two-out')], env);
    expect(second.code).toBe(0);
    expect(second.stdout).not.toContain('exported');
  });

  it('refuses a run over an empty folder in a moment, naming it, with exit code 1 and the dataset untouched', async () => {
    const input = join(dir, 'empty');
    await mkdir(input);
    const result = await featurize(['run', input, '--out', join(dir, 'empty-out')]);
    expect(result.stderr).not.toContain('terminate called');
    expect(result.stdout).toMatch(/^run \S+ REFUSED before it started: no images under .*\/empty\/: nothing to do/m);
    expect(result.stdout).toMatch(/dataset: .*empty-out\/features\/ \(unchanged\)/);
    expect(result.code).toBe(1);
  });

  it('dies of Ctrl-C while the workers load the model (exit status 130), saying so, not by an abort', async () => {
    const input = join(dir, 'interrupted');
    for (const key of await sampleKeys(1, 2)) await cp(join(sampleDir, key), join(input, key), { recursive: true });
    // --verbose shows the JSON logs (at INFO, above the WARN of the tests' environment), among them the line that
    // says a worker has loaded its model: the other is then still inside ONNX Runtime's session creation (exiting
    // there, rather than dying of the signal, aborted 8 times in 8).
    const cli = startFeaturize(['run', input, '--out', join(dir, 'interrupted-out'), '--workers', '2', '--verbose']);
    await cli.saw(/"message":"model loaded"/);
    cli.kill('SIGINT');
    const { code, signal, stdout, stderr } = await cli.exited;
    expect(stderr).not.toContain('terminate called');
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGINT' });
    expect(stderr).toContain(`featurize: run ${/^featurize: run (\S+)$/m.exec(stdout)?.[1]} interrupted (SIGINT)`);
    expect(stdout).not.toContain('images:');
  });

  it.each([
    ['unset', undefined],
    ['empty', ''],
  ])('shows a failed validation as its summary alone, without a JSON log line (POWERTOOLS_LOG_LEVEL %s)', async (name, level) => {
    const input = join(dir, `not-images-${name}`);
    await mkdir(join(input, 'Label'), { recursive: true });
    await writeFile(join(input, 'Label', 'notes.jpg'), 'not an image');
    // As a user runs it: no POWERTOOLS_LOG_LEVEL of their own (the tests' environment sets one).
    const result = await featurize(['run', input, '--out', join(dir, `not-images-${name}-out`), '--workers', '1'], {
      POWERTOOLS_LOG_LEVEL: level,
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^run \S+ FAILED: ValidationFailed: .*inputs \(none of the 1 images under .* gave a vector/m);
    expect(`${result.stdout}\n${result.stderr}`.split('\n').filter((line) => line.startsWith('{'))).toEqual([]);
  });

  it('refuses to inspect a location without a dataset', async () => {
    expectOneLineFailure(await featurize(['inspect', dir]), /no Parquet parts under .*features\/$/m);
  });
});

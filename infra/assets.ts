/**
 * What the CDK app packages besides source code, assembled under build/ before synthesis (cdk.json's `build`
 * runs `npm run build:assets`; each step alone: `npm run build:model`, `npm run build:layers`):
 *
 *   build/model/<engine>/        a model per engine, baked into the extraction image at /opt/model/<engine>/
 *   build/layers/<name>/nodejs/  a Lambda layer per folder of layers/ (its package.json and lockfile, installed)
 *
 * The app itself never builds: it checks (requireModel, requireLayer) and fails with the command to run, so a
 * deployment cannot silently bake in no model or a stale one.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultModelDir } from '../functions/shared/config.ts';
import { graphModelFileNames } from '../functions/shared/model/graph-model-files.ts';
import { descriptorFileName, loadModelDescriptor } from '../functions/shared/model/model-descriptor.ts';
import { exportOnnx } from '../tools/onnx-export/export-onnx.ts';

export const repoRoot = fileURLToPath(new URL('../', import.meta.url));
export const modelBuildDir = join(repoRoot, 'build', 'model');
export const layersSourceDir = join(repoRoot, 'layers');
export const layersBuildDir = join(repoRoot, 'build', 'layers');

/**
 * One step per engine, each filling build/model/<engine>/ from its source files, in this order. The ONNX file
 * is exported from build/model/tfjs/, the very folder the image loads as FEATURIZE_MODEL_DIR, so that the
 * source model it records is the one the engine finds there; its stamp covers the exporter's code too.
 */
const modelSteps: readonly { engine: string; sources: () => Promise<string[]>; assemble: (dest: string) => Promise<void> }[] = [
  {
    engine: 'tfjs',
    // This file too: how the model is assembled (its featurize-model.json) is part of what is built.
    sources: async () => [...(await tfjsModelFiles(defaultModelDir())), fileURLToPath(import.meta.url)],
    assemble: (dest) => assembleTfjsModel(defaultModelDir(), dest),
  },
  {
    engine: 'onnx',
    sources: async () => [...(await tfjsModelFiles(join(modelBuildDir, 'tfjs'))), ...onnxExporterFiles()],
    assemble: async (dest) => {
      await exportOnnx(join(modelBuildDir, 'tfjs'), join(dest, onnxModelFile), { verify: true });
    },
  },
];

/** The ONNX file in build/model/onnx/: the Dockerfile points FEATURIZE_ONNX_MODEL at /opt/model/onnx/model.onnx. */
const onnxModelFile = 'model.onnx';

function onnxExporterFiles(): string[] {
  const model = join(repoRoot, 'functions', 'shared', 'model');
  const exporter = join(repoRoot, 'tools', 'onnx-export');
  return [
    join(model, 'graph-model-files.ts'),
    join(model, 'onnx-schema.ts'),
    ...readdirSync(exporter)
      .sort()
      .map((file) => join(exporter, file)),
  ];
}

/** Fills build/model/<engine>/ for each engine whose source changed since the last build. */
export function buildModels(): Promise<string[]> {
  return exclusively(async () => {
    const built: string[] = [];
    for (const step of modelSteps) {
      const dest = join(modelBuildDir, step.engine);
      const stamp = await stampOf(await step.sources());
      if (await isBuilt(`model-${step.engine}`, stamp, join(dest))) continue;
      await rm(dest, { recursive: true, force: true });
      await mkdir(dest, { recursive: true });
      await step.assemble(dest);
      await markBuilt(`model-${step.engine}`, stamp);
      built.push(dest);
    }
    return built;
  });
}

/** model.json, exactly the weight files its manifest names, and the optional featurize-model.json descriptor. */
async function tfjsModelFiles(source: string): Promise<string[]> {
  const modelJson = join(source, 'model.json');
  if (!existsSync(modelJson)) {
    throw new Error(`no TF.js model at ${source} (model.json missing): set FEATURIZE_MODEL_DIR to the model's folder`);
  }
  const optional = existsSync(join(source, descriptorFileName)) ? [descriptorFileName] : [];
  return [...(await graphModelFileNames(source)), ...optional].map((file) => join(source, file));
}

/**
 * Copies a TF.js graph model's files (and nothing else from its folder) into `dest`, and pins the model's name
 * in its featurize-model.json: in the image the folder is called `tfjs`, and vectors made there must record the
 * same model id as a local run of the same model.
 */
async function assembleTfjsModel(source: string, dest: string): Promise<void> {
  for (const file of await tfjsModelFiles(source)) await copyFile(file, join(dest, basename(file)));
  const descriptorPath = join(dest, descriptorFileName);
  const descriptor = existsSync(descriptorPath) ? (JSON.parse(await readFile(descriptorPath, 'utf8')) as object) : {};
  const { name } = await loadModelDescriptor(source);
  await writeFile(descriptorPath, `${JSON.stringify({ ...descriptor, name }, null, 2)}\n`);
}

/** Installs each layer's locked dependencies; a layer whose package.json and lockfile are unchanged is kept. */
export function buildLayers(): Promise<string[]> {
  return exclusively(async () => {
    const built: string[] = [];
    for (const name of layerNames()) {
      const source = join(layersSourceDir, name);
      const dest = join(layersBuildDir, name, 'nodejs');
      const manifests = ['package.json', 'package-lock.json'];
      const stamp = await stampOf(manifests.map((file) => join(source, file)));
      if (await isBuilt(`layer-${name}`, stamp, join(dest, 'node_modules'))) continue;
      await rm(join(layersBuildDir, name), { recursive: true, force: true });
      await mkdir(dest, { recursive: true });
      for (const file of manifests) await copyFile(join(source, file), join(dest, file));
      execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
        cwd: dest,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      await markBuilt(`layer-${name}`, stamp);
      built.push(dest);
    }
    return built;
  });
}

function layerNames(): string[] {
  return readdirSync(layersSourceDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(layersSourceDir, entry.name, 'package.json')))
    .map((entry) => entry.name)
    .sort();
}

/** The packages a layer provides: the functions using it mark them external instead of bundling them. */
export function layerPackages(name: string): string[] {
  const manifest = JSON.parse(readFileSync(join(layersSourceDir, name, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  return Object.keys(manifest.dependencies ?? {});
}

/** build/model/<engine>/, or an error saying how to make it. */
export function requireModel(engine: string): string {
  const dir = join(modelBuildDir, engine);
  if (!existsSync(dir) || readdirSync(dir).length === 0) {
    throw new Error(
      `${dir} is missing or empty: run "npm run build:model" first (the extraction image bakes build/model/ in; ` +
        `"npx cdk synth" and "npx cdk deploy" run it through cdk.json's build command)`,
    );
  }
  return dir;
}

/** build/layers/<name>/ (the directory Lambda unpacks under /opt), or an error saying how to make it. */
export function requireLayer(name: string): string {
  const dir = join(layersBuildDir, name);
  if (!existsSync(join(dir, 'nodejs', 'node_modules'))) {
    throw new Error(`${dir} is missing: run "npm run build:layers" first (it installs layers/${name}/package.json)`);
  }
  return dir;
}

export async function buildAssets(): Promise<string[]> {
  return [...(await buildModels()), ...(await buildLayers())];
}

/**
 * Stamps live in build/ beside the outputs, not inside them: a layer's or model's asset hash covers only what
 * is deployed. A step whose stamp matches its sources (and whose output exists) is not redone.
 */
const stampsDir = join(repoRoot, 'build', '.stamps');

async function stampOf(files: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const file of files)
    hash
      .update(basename(file))
      .update('\0')
      .update(await readFile(file));
  return hash.digest('hex');
}

async function isBuilt(step: string, stamp: string, output: string): Promise<boolean> {
  const file = join(stampsDir, step);
  return existsSync(output) && existsSync(file) && (await readFile(file, 'utf8')) === stamp;
}

async function markBuilt(step: string, stamp: string): Promise<void> {
  await mkdir(stampsDir, { recursive: true });
  await writeFile(join(stampsDir, step), stamp);
}

/**
 * One build at a time across processes (two test files synthesizing at once, a synth beside a test run):
 * creating a directory is atomic, so it serves as the lock. A lock older than ten minutes is a crashed build's.
 */
async function exclusively<T>(build: () => Promise<T>): Promise<T> {
  const lock = join(repoRoot, 'build', '.lock');
  await mkdir(dirname(lock), { recursive: true });
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = Date.now() - (await stat(lock).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > 10 * 60_000) await rm(lock, { recursive: true, force: true });
      else await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    return await build();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

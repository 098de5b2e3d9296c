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
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultModelDir } from '../functions/shared/config.ts';

export const repoRoot = fileURLToPath(new URL('../', import.meta.url));
export const modelBuildDir = join(repoRoot, 'build', 'model');
export const layersSourceDir = join(repoRoot, 'layers');
export const layersBuildDir = join(repoRoot, 'build', 'layers');

/** One step per engine, each filling build/model/<engine>/. The ONNX export adds its step here. */
const modelSteps: readonly { engine: string; assemble: (dest: string) => Promise<void> }[] = [
  { engine: 'tfjs', assemble: (dest) => assembleTfjsModel(defaultModelDir(), dest) },
];

export async function buildModels(): Promise<string[]> {
  const built: string[] = [];
  for (const step of modelSteps) {
    const dest = join(modelBuildDir, step.engine);
    await rm(dest, { recursive: true, force: true });
    await mkdir(dest, { recursive: true });
    await step.assemble(dest);
    built.push(dest);
  }
  return built;
}

/**
 * Copies a TF.js graph model: model.json, exactly the weight files its manifest names, and the optional
 * featurize-model.json descriptor. Nothing else from the source folder ends up in the image.
 */
export async function assembleTfjsModel(source: string, dest: string): Promise<void> {
  const modelJson = join(source, 'model.json');
  if (!existsSync(modelJson)) {
    throw new Error(`no TF.js model at ${source} (model.json missing): set FEATURIZE_MODEL_DIR to the model's folder`);
  }
  const model = JSON.parse(await readFile(modelJson, 'utf8')) as { weightsManifest?: { paths: string[] }[] };
  const weights = (model.weightsManifest ?? []).flatMap((group) => group.paths);
  const optional = existsSync(join(source, 'featurize-model.json')) ? ['featurize-model.json'] : [];
  for (const file of ['model.json', ...weights, ...optional]) await copyFile(join(source, file), join(dest, file));
}

/** Installs each layer's locked dependencies; a layer whose package.json and lockfile are unchanged is kept. */
export async function buildLayers(): Promise<string[]> {
  const built: string[] = [];
  for (const name of layerNames()) {
    const source = join(layersSourceDir, name);
    const dest = join(layersBuildDir, name, 'nodejs');
    const manifests = ['package.json', 'package-lock.json'];
    const stamp = createHash('sha256');
    for (const file of manifests) stamp.update(await readFile(join(source, file)));
    // The stamp lives beside the layer, not in it: the layer's asset hash covers only what Lambda unpacks.
    const stampFile = join(layersBuildDir, `.${name}.stamp`);
    const digest = stamp.digest('hex');
    if (existsSync(stampFile) && (await readFile(stampFile, 'utf8')) === digest && existsSync(join(dest, 'node_modules'))) {
      continue;
    }
    await rm(join(layersBuildDir, name), { recursive: true, force: true });
    await mkdir(dest, { recursive: true });
    for (const file of manifests) await copyFile(join(source, file), join(dest, file));
    execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
      cwd: dest,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await writeFile(stampFile, digest);
    built.push(dest);
  }
  return built;
}

export function layerNames(): string[] {
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

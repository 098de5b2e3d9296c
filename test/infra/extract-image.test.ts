/**
 * The container image carries what it runs: its production dependencies (functions/extract/image/) are exactly the
 * packages the bundled handlers of the container steps (extract, update-index, report) import, locked at the
 * versions the tests ran, with nothing of the CLI, the local runner or the zip functions. The image itself is not
 * built here (no Docker engine).
 */
import { readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../infra/assets.ts';
import { containerDockerfile, containerHandler } from '../../infra/step-functions.ts';
import { steps } from '../../statemachine/steps.ts';
import { unusedOptionalPackages } from '../../tools/image-lockfile.ts';

interface Manifest {
  dependencies: Record<string, string>;
  devDependencies?: Record<string, string>;
}
interface Lock {
  packages: Record<
    string,
    { version?: string; dev?: boolean; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> }
  >;
}

const readJson = <T>(...path: string[]) => JSON.parse(readFileSync(join(repoRoot, ...path), 'utf8')) as T;
const root = readJson<Manifest>('package.json');
const rootLock = readJson<Lock>('package-lock.json');
const image = readJson<Manifest>('functions', 'extract', 'image', 'package.json');
const imageLock = readJson<Lock>('functions', 'extract', 'image', 'package-lock.json');
const dockerfile = readFileSync(join(repoRoot, containerDockerfile), 'utf8');
const dockerignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8');
const containerSteps = steps.filter((step) => step.packaging === 'container');

/** `@scope/name/sub/path` -> `@scope/name`; `name/sub` -> `name`. */
const packageOf = (specifier: string) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

/** The packages the handlers' bundles import, as the Dockerfile bundles them (every package left external). */
let imported: string[];
/** The repository's top folders the bundles' sources come from. */
let sourceFolders: string[];
/** The files the bundles are written to, relative to dist/ (the image's task root). */
let bundles: string[];

beforeAll(async () => {
  const result = await build({
    entryPoints: containerSteps.map((step) => join(repoRoot, 'functions', step.folder, 'handler.ts')),
    // As the Dockerfile names its outputs (checked below).
    outbase: join(repoRoot, 'functions'),
    entryNames: '[dir]',
    outExtension: { '.js': '.mjs' },
    outdir: join(repoRoot, 'dist'),
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    packages: 'external',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const specifiers = Object.values(result.metafile.inputs).flatMap((input) =>
    input.imports.filter((i) => i.external && !isBuiltin(i.path)).map((i) => packageOf(i.path)),
  );
  imported = [...new Set(specifiers)].sort();
  sourceFolders = [...new Set(Object.keys(result.metafile.inputs).map((path) => path.split('/')[0]!))].sort();
  bundles = result.outputFiles.map((file) => file.path.slice(join(repoRoot, 'dist/').length)).filter((path) => path.endsWith('.mjs'));
});

describe('the container image', () => {
  it("bundles each container step's handler as the file its function's CMD names, from sources its build context holds", () => {
    expect(containerSteps.map((step) => step.name)).toEqual(['Extract', 'UpdateIndex', 'Report']);
    const bundled = /RUN npx esbuild ((?:functions\/[\w-]+\/handler\.ts\s*)+)\\/.exec(dockerfile)?.[1]?.trim().split(/\s+/);
    expect(bundled).toEqual(containerSteps.map((step) => `functions/${step.folder}/handler.ts`));
    expect(dockerfile).toMatch(/--outbase=functions --entry-names=\[dir\] --out-extension:\.js=\.mjs --outdir=dist/);
    expect(dockerfile).toContain('COPY --from=build /build/dist/ ./');
    // Lambda's handler setting is `<module>.<export>`: functions/<folder>/handler.ts is <folder>.mjs, export handler.
    expect(containerSteps.map(containerHandler)).toEqual(['extract.handler', 'update-index.handler', 'report.handler']);
    expect(bundles.sort()).toEqual(containerSteps.map((step) => `${containerHandler(step).replace(/\.handler$/, '')}.mjs`).sort());
    expect(dockerfile).toMatch(/^CMD \["extract\.handler"\]$/m);
    expect(sourceFolders).toEqual(['functions', 'statemachine']);
    for (const folder of sourceFolders) {
      expect(dockerfile, folder).toContain(`COPY ${folder} ./${folder}`);
      expect(dockerignore.split('\n'), folder).toContain(`!${folder}/`);
    }
  });

  it("depends on exactly the packages the container steps' bundles import, at the root's versions", () => {
    expect(imported).toEqual(expect.arrayContaining(['onnxruntime-node', 'sharp', '@lancedb/lancedb', 'vega-lite']));
    expect(Object.keys(image.dependencies).sort()).toEqual(imported);
    for (const [name, version] of Object.entries(image.dependencies)) expect(version, name).toBe(root.dependencies[name]);
  });

  it('is locked at the versions the root lockfile (what the tests ran) has, for every package it installs', () => {
    expect(imageLock.packages['']?.dependencies).toEqual(image.dependencies);
    const installed = Object.entries(imageLock.packages).filter(([path]) => path !== '');
    expect(installed.length).toBeGreaterThan(imported.length);
    for (const [path, entry] of installed) {
      expect(entry.dev, path).toBeUndefined();
      expect(entry.version, path).toBe(rootLock.packages[path]?.version);
    }
  });

  it("installs LanceDB's native library for either CPU the functions may run on, and none of its embedding packages", () => {
    // npm installs the one whose cpu and libc match: Lambda's Node.js images are glibc (Amazon Linux).
    for (const binary of ['@lancedb/lancedb-linux-x64-gnu', '@lancedb/lancedb-linux-arm64-gnu']) {
      expect(imageLock.packages[`node_modules/${binary}`]?.version, binary).toBe(image.dependencies['@lancedb/lancedb']);
    }
    const lancedb = imageLock.packages['node_modules/@lancedb/lancedb'];
    for (const name of unusedOptionalPackages) {
      expect(imageLock.packages[`node_modules/${name}`], name).toBeUndefined();
      expect(lancedb?.optionalDependencies, name).not.toHaveProperty(name);
    }
  });

  it('carries nothing of the CLI, the local runner, the zip functions or the build tools', () => {
    const installed = Object.entries(imageLock.packages).filter(([path]) => path !== '');
    const nameOf = (path: string) => path.replace(/^.*node_modules\//, '');
    const names = new Set(installed.map(([path]) => nameOf(path)));
    // vega's d3 packages carry old commanders of their own, nested (their command-line tools): not the CLI's.
    const hoisted = new Set(installed.filter(([path]) => !path.includes('/node_modules/')).map(([path]) => nameOf(path)));
    for (const name of [
      ...['commander', 'cli-progress', 'piscina', 'aws-local-stepfunctions', '@aws-sdk/client-sfn', '@aws-sdk/client-cloudformation'],
      ...['@aws-sdk/client-lambda', 'parquet-wasm', 'ml-matrix', '@aws-lambda-powertools/batch'],
      ...['aws-cdk-lib', 'aws-cdk', 'esbuild', 'vitest', 'fauxqs', '@duckdb/node-api', 'typescript'],
      // The build argument's alone.
      '@tensorflow/tfjs-node',
      // LanceDB's embedding functions, never loaded (tools/image-lockfile.ts).
      ...unusedOptionalPackages,
    ]) {
      expect(hoisted.has(name), name).toBe(false);
    }
    // Any other package of the root the bundle does not import is there only as an installed package's dependency
    // (protobufjs depends on @types/node, tfjs-backend-wasm on tfjs-backend-cpu).
    const requiredBy = (name: string) =>
      installed
        .filter(([, entry]) => Object.hasOwn({ ...entry.dependencies, ...entry.optionalDependencies }, name))
        .map(([p]) => nameOf(p));
    const rootPackages = [...Object.keys(root.dependencies), ...Object.keys(root.devDependencies ?? {})];
    for (const name of rootPackages.filter((n) => !imported.includes(n) && names.has(n))) {
      expect(requiredBy(name), name).not.toEqual([]);
    }
  });

  it('installs its own dependency set, and tfjs-node only with TFJS_NODE=true, at tfjs-core’s version', () => {
    const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(finalStage).toContain('COPY functions/extract/image/package.json functions/extract/image/package-lock.json .npmrc ./');
    expect(finalStage).not.toMatch(/COPY package\.json/);
    expect(finalStage).toMatch(/^ARG TFJS_NODE=false$/m);
    const tfjsNode = /@tensorflow\/tfjs-node@(\S+)/.exec(finalStage)?.[1];
    expect(tfjsNode).toBe(root.dependencies['@tensorflow/tfjs-core']);
    expect(finalStage).toMatch(/if \[ "\$TFJS_NODE" = "true" \]; then[\s\S]*npm install[\s\S]*@tensorflow\/tfjs-node@/);
  });
});

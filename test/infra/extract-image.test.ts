/**
 * The extraction image carries what it runs: its production dependencies (functions/extract/image/) are exactly the
 * packages the bundled extract handler imports, locked at the versions the tests ran, with nothing of the CLI, the
 * local runner or the other functions. The image itself is not built here (no Docker engine).
 */
import { readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../infra/assets.ts';

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
const dockerfile = readFileSync(join(repoRoot, 'functions', 'extract', 'Dockerfile'), 'utf8');

/** `@scope/name/sub/path` -> `@scope/name`; `name/sub` -> `name`. */
const packageOf = (specifier: string) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');

/** The packages the handler's bundle imports, as the Dockerfile bundles it (every package left external). */
let imported: string[];

beforeAll(async () => {
  const result = await build({
    entryPoints: [join(repoRoot, 'functions', 'extract', 'handler.ts')],
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
});

describe('the extraction image', () => {
  it("depends on exactly the packages the extract handler's bundle imports, at the root's versions", () => {
    expect(imported).toContain('onnxruntime-node');
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

  it('carries nothing of the CLI, the local runner, the other functions or the build tools', () => {
    const installed = Object.entries(imageLock.packages).filter(([path]) => path !== '');
    const nameOf = (path: string) => path.replace(/^.*node_modules\//, '');
    const names = new Set(installed.map(([path]) => nameOf(path)));
    for (const name of [
      ...['commander', 'cli-progress', 'piscina', 'aws-local-stepfunctions', '@aws-sdk/client-sfn', '@aws-sdk/client-cloudformation'],
      ...['@aws-sdk/client-lambda', 'vega', 'vega-lite', 'hyparquet', 'parquet-wasm', 'ml-matrix', '@aws-lambda-powertools/batch'],
      ...['aws-cdk-lib', 'aws-cdk', 'esbuild', 'vitest', 'fauxqs', '@duckdb/node-api', 'typescript'],
      // The build argument's alone.
      '@tensorflow/tfjs-node',
    ]) {
      expect(names.has(name), name).toBe(false);
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

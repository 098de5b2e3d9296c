/**
 * `npm run build:image-lock`: remakes the container image's lockfile (functions/extract/image/package-lock.json)
 * from the root one, so that the image installs the very versions the tests ran: the root lockfile copied beside
 * the image's package.json, `npm install --package-lock-only` there (npm drops what the image does not need),
 * then LanceDB's embedding-function packages taken out.
 *
 * @lancedb/lancedb lists @huggingface/transformers (235 MB installed: its own ONNX Runtime for every platform, and
 * sharp) and openai as optional dependencies, which it loads only when a table uses one of their embedding
 * functions (dist/embedding/transformers.js, openai.js); the index stores vectors we made, so neither is ever
 * loaded. npm installs what the lockfile names, so it leaves them out: as LanceDB's optional dependencies, as
 * packages, and everything only they need.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toolArgument } from './tool-argument.ts';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const imageDir = join(repoRoot, 'functions', 'extract', 'image');
const lockPath = join(imageDir, 'package-lock.json');

/** Optional dependencies the image never loads (see above). */
export const unusedOptionalPackages = ['@huggingface/transformers', 'openai'];

interface LockEntry {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

interface Lock {
  packages: Record<string, LockEntry>;
}

/** Where Node finds `name` from the package at `from` (a lockfile path): its own node_modules, then its parents'. */
function resolve(packages: Lock['packages'], from: string, name: string): string | undefined {
  for (let dir = from; ; dir = dir.includes('/node_modules/') ? dir.slice(0, dir.lastIndexOf('/node_modules/')) : '') {
    const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (dir === '') return undefined;
  }
}

/**
 * The lockfile without `unused` as anyone's dependency, nor the packages reachable only through them (npm ci checks
 * that a lockfile's entries name every package their dependencies need: the edges go too).
 */
function withoutPackages(lock: Lock, unused: readonly string[]): Lock {
  const drop = (deps: Record<string, string> | undefined) =>
    deps && Object.fromEntries(Object.entries(deps).filter(([name]) => !unused.includes(name)));
  const packages = Object.fromEntries(
    Object.entries(lock.packages).map(([path, entry]) => [
      path,
      { ...entry, ...(entry.optionalDependencies ? { optionalDependencies: drop(entry.optionalDependencies) } : {}) },
    ]),
  );
  const reachable = new Set<string>(['']);
  const queue = [''];
  while (queue.length > 0) {
    const path = queue.pop()!;
    const entry = packages[path]!;
    for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies })) {
      const found = resolve(packages, path, name);
      if (found && !reachable.has(found)) {
        reachable.add(found);
        queue.push(found);
      }
    }
  }
  return { ...lock, packages: Object.fromEntries(Object.entries(packages).filter(([path]) => reachable.has(path))) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  toolArgument('tools/image-lockfile.ts');
  copyFileSync(join(repoRoot, 'package-lock.json'), lockPath);
  execFileSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: dirname(lockPath),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const pruned = withoutPackages(JSON.parse(readFileSync(lockPath, 'utf8')) as Lock, unusedOptionalPackages);
  writeFileSync(lockPath, `${JSON.stringify(pruned, null, 2)}\n`);
  process.stdout.write(`${lockPath}: ${Object.keys(pruned.packages).length - 1} packages\n`);
}

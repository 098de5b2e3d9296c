/**
 * `npm run build:model` (model), `npm run build:layers` (layers), `npm run build:assets` (both, what cdk.json's
 * build command runs before every synth). See infra/assets.ts for what goes where.
 */
import { relative } from 'node:path';
import { buildLayers, buildModels, repoRoot } from './assets.ts';

const what = process.argv[2] ?? 'all';
const steps = { model: [buildModels], layers: [buildLayers], all: [buildModels, buildLayers] }[what];
if (!steps) {
  process.stderr.write(`usage: node infra/build-assets.ts [model|layers|all]\n`);
  process.exit(2);
}
for (const step of steps) {
  for (const dir of await step()) process.stdout.write(`built ${relative(repoRoot, dir)}\n`);
}

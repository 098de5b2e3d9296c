/**
 * `npm run build:wasm`: each WebAssembly text module of the functions to the TypeScript module that embeds its
 * binary, beside it (`x.wat` → `x-wasm.ts`, exporting `xWasm`). The tests fail while one is stale.
 */
import { writeFile } from 'node:fs/promises';
import { basename, relative } from 'node:path';
import { toolArgument } from '../tool-argument.ts';
import { compileWat, embeddedModule } from './compile-wat.ts';
import { wasmModules } from './wasm-modules.ts';

toolArgument('tools/wasm/build-wasm.ts');
for (const { wat, embedded, exportName } of wasmModules) {
  await writeFile(embedded, embeddedModule(basename(wat), exportName, await compileWat(wat)));
  console.log(`build:wasm: ${relative(process.cwd(), wat)} → ${relative(process.cwd(), embedded)}`);
}

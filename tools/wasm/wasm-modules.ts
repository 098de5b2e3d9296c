/** The functions' WebAssembly text modules, and the TypeScript modules that embed their binaries. */
import { fileURLToPath } from 'node:url';

const images = (file: string) => fileURLToPath(new URL(`../../functions/shared/images/${file}`, import.meta.url));

export const wasmModules = [
  { wat: images('bicubic-enlarge.wat'), embedded: images('bicubic-enlarge-wasm.ts'), exportName: 'bicubicEnlargeWasm' },
];

// The part of the WebAssembly JavaScript API the functions use. Node has all of it, but TypeScript declares it
// only in its DOM library, which this project does not load.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class CompileError extends Error {}
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
}

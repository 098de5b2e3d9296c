import { describe, expect, it } from 'vitest';
import { runNodeScript } from '../support/cli.ts';

const runTool = (path: string, args: string[]) => runNodeScript(new URL(`../../${path}`, import.meta.url).pathname, args);

// A misspelt argument must not build something other than what was asked for, or rewrite a file without a word.
describe('the build tools refuse an argument they do not take, in one line, before building anything', () => {
  it('npm run build:onnx takes int8 only', async () => {
    expect(await runTool('tools/onnx-export/build-onnx.ts', ['int-8'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'usage: node tools/onnx-export/build-onnx.ts [int8] (got "int-8")\n',
    });
  });

  it('npm run build:wasm takes none', async () => {
    expect(await runTool('tools/wasm/build-wasm.ts', ['--check'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'usage: node tools/wasm/build-wasm.ts (no arguments; got "--check")\n',
    });
  });

  it('npm run build:image-lock takes none', async () => {
    expect(await runTool('tools/image-lockfile.ts', ['--dry-run'])).toEqual({
      code: 2,
      stdout: '',
      stderr: 'usage: node tools/image-lockfile.ts (no arguments; got "--dry-run")\n',
    });
  });
});

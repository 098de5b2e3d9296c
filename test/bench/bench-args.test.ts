import { describe, expect, it } from 'vitest';
import { runNodeScript } from '../support/cli.ts';

/** Runs a bench script that must refuse its arguments: its exit code and its stderr's lines. */
async function refusal(name: string, args: string[]): Promise<{ code: number; lines: string[] }> {
  const { code, stderr } = await runNodeScript(new URL(`../../bench/${name}`, import.meta.url).pathname, args);
  return { code, lines: stderr.trimEnd().split('\n') };
}

// Each refused before any measurement, in one line naming the argument, with exit code 2: never a stack trace, a
// minute of stages before a TypeError, or a run that silently measures nothing.
describe('the bench scripts refuse a bad argument in one line', () => {
  it.each([
    ['bench.ts', ['--engines', 'foo'], '--engines: unknown "foo"; one or more of tfjs, onnx, onnx-int8, comma-separated'],
    [
      'bench.ts',
      ['--only', 'stages,nonsense'],
      '--only: unknown "nonsense"; one or more of stages, all-cores, pipeline, tail, comma-separated',
    ],
    ['bench.ts', ['--images', 'abc'], '--images must be a whole number of 1 or more, not "abc"'],
    ['bench.ts', ['--rounds', '0'], '--rounds must be a whole number of 1 or more, not "0"'],
    ['profile-pipeline.ts', ['--workers', '0'], '--workers must be a whole number of 1 or more, not "0"'],
    ['profile-pipeline.ts', ['--batch-size', 'abc'], '--batch-size must be a whole number of 1 or more, not "abc"'],
    ['profile-pipeline.ts', ['--input', '/nonexistent/images'], '--input: no folder at /nonexistent/images'],
    ['pca.ts', ['--share', '2'], '--share must be a number above 0 and at most 1, not "2"'],
    ['pca.ts', ['--parts', '0'], '--parts must be a whole number of 1 or more, not "0"'],
    ['search.ts', ['--ef', '100,x'], '--ef must be whole numbers of 1 or more, comma-separated, not "100,x"'],
    ['search.ts', ['--update-rows', '-1'], "Option '--update-rows' argument is ambiguous."],
    ['tail.ts', ['--rows', 'many'], '--rows must be a whole number of 1 or more, not "many"'],
    ['tail.ts', [], '--rows N is required, e.g. --rows 20000'],
    ['tune-onnx.ts', ['--rounds', '1.5'], '--rounds must be a whole number of 1 or more, not "1.5"'],
    ['measure-inference.ts', ['--nope'], 'expects one JSON argument'],
    ['model-aws.ts', [], '--images N is required, e.g. --images 1e6'],
    ['model-aws.ts', ['--images', '1e6', '--batch', '2.5'], '--batch must be a whole number of 1 or more, not "2.5"'],
  ])('%s %j', async (name, args, message) => {
    const { code, lines } = await refusal(name, args);
    expect(code).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`${name}: ${message}`);
  });
});

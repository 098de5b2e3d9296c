/**
 * A build tool's argument: none, or the one optional word it takes (`build:onnx`'s `int8`). Anything else (a misspelt
 * option, a flag it does not have) ends it with one usage line and exit code 2, before it builds or rewrites
 * anything, instead of doing its default job without a word.
 */
export function toolArgument(script: string, optional?: string): string {
  const given = process.argv.slice(2).join(' ');
  if (given === '' || given === optional) return given;
  const usage = optional === undefined ? '(no arguments; ' : `[${optional}] (`;
  process.stderr.write(`usage: node ${script} ${usage}got ${JSON.stringify(given)})\n`);
  process.exit(2);
}

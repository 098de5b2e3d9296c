/**
 * Ends a build tool that takes no arguments when it is given some (a misspelt option, a flag it does not have):
 * one line and exit code 2, before it builds or rewrites anything, instead of doing its one job without a word.
 */
export function refuseArguments(script: string): void {
  const args = process.argv.slice(2);
  if (args.length === 0) return;
  process.stderr.write(`usage: node ${script} (no arguments; got ${JSON.stringify(args.join(' '))})\n`);
  process.exit(2);
}

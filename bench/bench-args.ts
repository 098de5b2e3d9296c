/**
 * The bench scripts' options: node's parseArgs, with an unknown or malformed option reported in one line naming
 * the options the script takes, and exit code 2, instead of a stack trace.
 */
import { basename } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';

export function benchArgs<const T extends NonNullable<ParseArgsConfig['options']>>(script: string, options: T) {
  try {
    return parseArgs({ options }).values;
  } catch (error) {
    const known = Object.keys(options)
      .map((name) => `--${name}`)
      .join(', ');
    // parseArgs' message may run to three lines (an ambiguous value ends with how to pass it): kept whole, on one.
    console.error(`${basename(script)}: ${(error as Error).message.replaceAll('\n', ' ')} (options: ${known})`);
    process.exit(2);
  }
}

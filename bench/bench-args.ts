/**
 * The bench scripts' arguments: node's parseArgs, and the checks of their values, each refusal one line naming the
 * script and the argument, with exit code 2, before anything is measured: never a stack trace, nor a minute of
 * measurements ended by an error the argument caused, nor a run that measures nothing. And the one line, exit code
 * 1, that ends a script when what it ran failed.
 */
import { statSync } from 'node:fs';
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
    return badArgument(script, `${(error as Error).message.replaceAll('\n', ' ')} (options: ${known})`);
  }
}

/** Ends the script on a bad argument: `<script>: <message>`, exit code 2. */
export function badArgument(script: string, message: string): never {
  console.error(`${basename(script)}: ${message}`);
  process.exit(2);
}

/** Ends the script on a failure of what it ran (a scenario, a measurement, a run): `<script>: <message>`, exit code 1. */
export function scriptFailed(script: string, message: string): never {
  console.error(`${basename(script)}: ${message}`);
  process.exit(1);
}

/** `--flag`'s value as a whole number of at least `min`. */
export function wholeNumberArg(script: string, flag: string, value: string, min = 1): number {
  const number = wholeNumber(value, min);
  return number ?? badArgument(script, `--${flag} must be a whole number of ${min} or more, not ${JSON.stringify(value)}`);
}

/** `--flag`'s value as comma-separated whole numbers, each at least `min`. */
export function wholeNumbersArg(script: string, flag: string, value: string, min = 1): number[] {
  const numbers = value.split(',').map((item) => wholeNumber(item, min));
  if (numbers.every((number) => number !== undefined)) return numbers;
  return badArgument(script, `--${flag} must be whole numbers of ${min} or more, comma-separated, not ${JSON.stringify(value)}`);
}

/** `--flag`'s value as a number above `above` and at most `max`. */
export function numberArg(script: string, flag: string, value: string, above: number, max = Number.POSITIVE_INFINITY): number {
  const number = parseNumber(value);
  if (number > above && number <= max) return number;
  const range = Number.isFinite(max) ? `above ${above} and at most ${max}` : `above ${above}`;
  return badArgument(script, `--${flag} must be a number ${range}, not ${JSON.stringify(value)}`);
}

/** `--flag`'s value as comma-separated names, each one of `allowed`. */
export function namesArg<const N extends string>(script: string, flag: string, value: string, allowed: readonly N[]): N[] {
  const names = value.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !(allowed as readonly string[]).includes(name));
  if (unknown.length === 0) return names as N[];
  return badArgument(
    script,
    `--${flag}: unknown ${unknown.map((name) => JSON.stringify(name)).join(', ')}; one or more of ${allowed.join(', ')}, comma-separated`,
  );
}

/** `--flag`'s value as a folder that exists. */
export function folderArg(script: string, flag: string, path: string): string {
  if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) return path;
  return badArgument(script, `--${flag}: no folder at ${path}`);
}

/**
 * The one JSON argument of a script that a bench script runs in a process of its own (`usage` shows one), parsed;
 * its fields are the parent's to get right.
 */
export function jsonArg<T>(script: string, usage: string): T {
  try {
    return JSON.parse(process.argv[2] ?? '') as T;
  } catch {
    return badArgument(script, `expects one JSON argument, e.g. ${usage}`);
  }
}

function wholeNumber(value: string, min: number): number | undefined {
  const number = parseNumber(value);
  return Number.isInteger(number) && number >= min ? number : undefined;
}

/** A number as written, NaN for anything else; `Number('')` would be 0. */
function parseNumber(value: string): number {
  return value.trim() === '' ? Number.NaN : Number(value);
}

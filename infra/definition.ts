/**
 * The state machine's definition as the stack sees it: the one ASL file, its `${Name}` placeholders (every one
 * must get a substitution, or synthesis fails), and the extract Task's retry policy (which sizes its timeout).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './assets.ts';
import type { Retrier } from './extract-sizing.ts';

export const aslPath = join(repoRoot, 'statemachine', 'featurize.asl.json');

/** Placeholder names: `${Name}` with a word inside (the Comment's literal `${...}` is prose, not a placeholder). */
const placeholderPattern = /\$\{(\w+)\}/g;

export function placeholders(definition: string): string[] {
  return [...new Set([...definition.matchAll(placeholderPattern)].map((match) => match[1] as string))].sort();
}

/** What CloudFormation does with DefinitionSubstitutions, for checking the result locally. */
export function substitute(definition: string, values: Readonly<Record<string, string>>): string {
  return definition.replace(placeholderPattern, (whole, name: string) => values[name] ?? whole);
}

interface AslState {
  Type: string;
  Resource?: string;
  Retry?: Retrier[];
  ItemProcessor?: { States: Record<string, AslState> };
}

/** The Retry lists of the Task states inside the Distributed Maps that invoke `${ExtractFunctionArn}`. */
export function extractRetriers(definition: string): Retrier[][] {
  const asl = JSON.parse(definition) as { States: Record<string, AslState> };
  return Object.values(asl.States)
    .flatMap((state) => Object.values(state.ItemProcessor?.States ?? {}))
    .filter((state) => state.Type === 'Task' && state.Resource === '${ExtractFunctionArn}')
    .map((state) => state.Retry ?? []);
}

export function readDefinition(): string {
  return readFileSync(aslPath, 'utf8');
}

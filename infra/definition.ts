/**
 * The state machine's definition as the stack sees it: the one ASL file (the local runner reads the same, see
 * statemachine/local/definition.ts) and the extract Task's retry policy, which sizes the function's timeout.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { definitionFile } from '../statemachine/local/definition.ts';
import type { Retrier } from './extract-sizing.ts';

export const aslPath = fileURLToPath(definitionFile);

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

/**
 * The definition's contract with whoever deploys or runs it: the one ASL file, the `${Name}` placeholders it
 * declares (filled by the CDK app as CloudFormation DefinitionSubstitutions, and by the local runner the same way),
 * and the Step Functions limits the values must respect. The file itself is never copied or edited.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { ConfigError } from '../functions/shared/errors.ts';
import type { FunctionArnPlaceholder } from './steps.ts';

export const definitionFile = new URL('./featurize.asl.json', import.meta.url);
export const definitionPath = fileURLToPath(definitionFile);

/** Step Functions' ceiling on a child execution's input, and so on MaxInputBytesPerBatch (256 KiB of JSON). */
export const maxInputBytesPerBatch = 256 * 1024;

/** The run's defaults the definition's Prepare state starts from; the execution input overrides any of them. */
export type RunDefaultSubstitutions = {
  InputBucket: string;
  InputPrefix: string;
  OutputBucket: string;
  OutputPrefix: string;
  /**
   * The output prefixes of OutputBucket a run may write, comma-separated (the deployment's roles are granted these
   * and no other): CheckRun refuses any other output, as `featurize start` does before starting.
   */
  GrantedOutputPrefixes: string;
  MaxItemsPerBatch: string;
  MaxInputBytesPerBatch: string;
  MaxConcurrency: string;
  ToleratedFailurePercentage: string;
  /** JSON text: `null` or a PCA shorthand (`0.95`, `64`); see functions/shared/pca/pca-setting.ts. */
  PcaDefault: string;
  /** JSON text: `true` or `false`, whether runs update the nearest-neighbour index after publishing. */
  IndexDefault: string;
};

/** What the runner does, not what a run asks for: the execution input cannot change it. */
export type RunnerSubstitutions = {
  /**
   * How many ReduceParts children run at once: PlanReduce cuts a run into at least this many parts when each
   * still holds `minRowsPerPart` rows (plan-reduce.ts), so that the reduce and its audit use them all.
   */
  ReduceParallelism: string;
};

/**
 * Every placeholder the definition declares, by name: every value is a string, as in CloudFormation. The function
 * ARNs come from the list of steps (steps.ts), one per step.
 */
export type DefinitionSubstitutions = RunDefaultSubstitutions & RunnerSubstitutions & Record<FunctionArnPlaceholder, string>;

// A placeholder is `${` + a name + `}`; the Comment's `${...}` names none and stays as written.
const placeholder = /\$\{([A-Za-z][A-Za-z0-9_]*)\}/g;

export async function readDefinitionText(): Promise<string> {
  return readFile(definitionFile, 'utf8');
}

/** The same, synchronously: CDK constructs are built synchronously. */
export function readDefinitionTextSync(): string {
  return readFileSync(definitionFile, 'utf8');
}

/** The placeholder names a definition text uses, each once, in order of first use. */
export function placeholderNames(text: string): string[] {
  return [...new Set(Array.from(text.matchAll(placeholder), (match) => match[1]!))];
}

/**
 * Fills every placeholder and parses the result. A placeholder without a value is a ConfigError naming it.
 * Values are JSON-escaped: every placeholder sits inside a JSON string, so a directory name with a quote or a
 * backslash cannot break the document (for the bucket names and ARNs CloudFormation handles, escaping is a no-op).
 */
export function substituteDefinition(text: string, values: Readonly<Record<string, string>>): StateMachineDefinition {
  const missing = placeholderNames(text).filter((name) => values[name] === undefined);
  if (missing.length > 0) throw new ConfigError(`no value for the definition's placeholder(s): ${missing.join(', ')}`);
  const filled = text.replace(placeholder, (_, name: string) => JSON.stringify(values[name]).slice(1, -1));
  return JSON.parse(filled) as StateMachineDefinition;
}

export async function loadDefinition(values: DefinitionSubstitutions): Promise<StateMachineDefinition> {
  return substituteDefinition(await readDefinitionText(), { ...values });
}

/** The fields of an ASL Retrier that decide how long retrying takes. */
export interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  /** FULL draws each wait between 0 and its computed figure: it never lengthens a wait. */
  JitterStrategy?: 'FULL' | 'NONE';
}

interface AslState {
  Type: string;
  Resource?: string;
  Retry?: Retrier[];
  ItemProcessor?: { States: Record<string, AslState> };
}

/** Every Task state of the (unfilled) definition, Distributed Maps' item processors included, by name. */
export function taskStates(text: string): [string, AslState][] {
  const tasks: [string, AslState][] = [];
  const visit = (states: Record<string, AslState>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task') tasks.push([name, state]);
      if (state.ItemProcessor) visit(state.ItemProcessor.States);
    }
  };
  visit((JSON.parse(text) as { States: Record<string, AslState> }).States);
  return tasks;
}

/** Each Distributed Map state of the (unfilled) definition, by name, with the Resources its item processor's Task states invoke. */
export function distributedMapStates(text: string): [string, string[]][] {
  return Object.entries((JSON.parse(text) as { States: Record<string, AslState> }).States)
    .filter(([, state]) => state.ItemProcessor)
    .map(([name, state]) => [name, Object.values(state.ItemProcessor!.States).flatMap((task) => (task.Resource ? [task.Resource] : []))]);
}

/** The Retry lists of the Task states that invoke `${<placeholder>}`: they bound how long a call may take. */
export function retriersOf(text: string, placeholderName: string): Retrier[][] {
  return taskStates(text)
    .filter(([, state]) => state.Resource === `\${${placeholderName}}`)
    .map(([, state]) => state.Retry ?? []);
}

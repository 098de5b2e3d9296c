/**
 * The one ASL definition, read and filled in exactly as the CDK app fills it: every `${Name}` placeholder is
 * replaced by its value (CloudFormation DefinitionSubstitutions), then the text is parsed. The file itself is
 * never copied or edited.
 */
import { readFile } from 'node:fs/promises';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { ConfigError } from '../../functions/shared/errors.ts';

export const definitionFile = new URL('../featurize.asl.json', import.meta.url);

/** The substitutions the definition declares, by name: every value is a string, as in CloudFormation. */
export interface DefinitionSubstitutions {
  InputBucket: string;
  InputPrefix: string;
  OutputBucket: string;
  OutputPrefix: string;
  MaxItemsPerBatch: string;
  MaxInputBytesPerBatch: string;
  MaxConcurrency: string;
  ToleratedFailurePercentage: string;
  /** JSON text: `null` or a PCA shorthand (`0.95`, `64`); see functions/shared/pca/pca-setting.ts. */
  PcaDefault: string;
  ExtractFunctionArn: string;
  ReduceFunctionArn: string;
  ValidateFunctionArn: string;
  PublishFunctionArn: string;
  PcaFunctionArn: string;
  ReportFunctionArn: string;
}

// A placeholder is `${` + a name + `}`; the Comment's `${...}` names none and stays as written.
const placeholder = /\$\{([A-Za-z][A-Za-z0-9_]*)\}/g;

export async function readDefinitionText(): Promise<string> {
  return readFile(definitionFile, 'utf8');
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

/**
 * The stack synthesized as `cdk synth` does (cdk.json's context, cdk-nag's AwsSolutions checks), into a
 * temporary cloud assembly, plus readers for what the tests assert: grants per role, resolved values.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import cdkJson from '../../cdk.json' with { type: 'json' };
import { buildAssets } from '../../infra/assets.ts';
import { FeaturizeStack } from '../../infra/featurize-stack.ts';
import { type StackSettings, stackSettings } from '../../infra/settings.ts';

export interface Synthesized {
  stack: FeaturizeStack;
  settings: StackSettings;
  template: Template;
  outdir: string;
  /** The error synthesis threw (cdk-nag findings fail it), if any. */
  synthError?: Error;
}

export interface NagViolation {
  ruleName: string;
  violatingConstructs: { constructPath: string }[];
}

/** Builds build/ first (as cdk.json's build command does), then synthesizes with `context` over cdk.json's. */
export async function synthesize(context: Record<string, unknown> = {}): Promise<Synthesized> {
  await buildAssets();
  const outdir = await mkdtemp(join(tmpdir(), 'featurize-cdk-'));
  const app = new App({ outdir, context: { ...cdkJson.context, ...context } });
  // The environment must not leak into the settings under test: context only.
  const settings = stackSettings((key) => app.node.tryGetContext(key), {});
  const stack = new FeaturizeStack(app, settings.stackName, { settings });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  let synthError: Error | undefined;
  try {
    app.synth();
  } catch (error) {
    synthError = error as Error;
  }
  const template = Template.fromJSON(JSON.parse(await readFile(join(outdir, `${stack.artifactId}.template.json`), 'utf8')));
  return { stack, settings, template, outdir, ...(synthError ? { synthError } : {}) };
}

/** cdk-nag's AwsSolutions findings left unacknowledged (the report also carries CDK's own annotations). */
export async function nagViolations(outdir: string): Promise<NagViolation[]> {
  const report = JSON.parse(await readFile(join(outdir, 'validation-report.json'), 'utf8')) as {
    pluginReports: { pluginName: string; violations: NagViolation[] }[];
  };
  return report.pluginReports.filter((plugin) => plugin.pluginName === 'AwsSolutions').flatMap((plugin) => plugin.violations);
}

/**
 * A CloudFormation value as text: `{ Ref: X }` -> `<X>`, `{ Fn::GetAtt: [X, Arn] }` -> `<X.Arn>`, joins joined.
 * The logical ids are then replaced by their construct's short name through `names` (e.g. `<Data.Arn>`).
 */
export function flatten(value: unknown, names: Readonly<Record<string, string>> = {}): string {
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === 'string') return `<${names[v.Ref] ?? v.Ref}>`;
  const getAtt = v['Fn::GetAtt'] as [string, string] | undefined;
  if (getAtt) return `<${names[getAtt[0]] ?? getAtt[0]}.${getAtt[1]}>`;
  const join = v['Fn::Join'] as [string, unknown[]] | undefined;
  if (join) return join[1].map((part) => flatten(part, names)).join(join[0]);
  throw new Error(`cannot flatten ${JSON.stringify(value)}`);
}

/** The stack's constructs that group resources (infra/featurize-stack.ts): their ids lead their resources' logical ids. */
const constructScopes = ['DataBucket', 'Leases', 'Steps', 'Pipeline', 'Alarms'];

/**
 * Whether a logical id is that of the construct named `name`: CDK joins the construct path (`Steps/ExtractRole`)
 * and appends an 8-hex-digit hash, so `Extract` matches neither `ExtractLogs` nor `StepsExtractRole`.
 */
export function isConstructNamed(id: string, name: string): boolean {
  return new RegExp(`^(?:${constructScopes.join('|')})?${name}[0-9A-F]{8}$`).test(id);
}

/** The logical id of the one resource of `type` whose construct is named `name` (see isConstructNamed). */
export function logicalId(template: Template, type: string, name: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => isConstructNamed(id, name));
  if (ids.length !== 1) throw new Error(`${ids.length} ${type} resources named ${name}: ${ids.join(', ')}`);
  return ids[0] as string;
}

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

/**
 * Every grant of a role, one line per action and resource, sorted: `s3:GetObject <Data.Arn>/images/*`, with
 * ` if {condition}` appended when the statement has one. Inline policies and separate policies alike.
 */
export function grantsOf(template: Template, roleLogicalId: string, names: Readonly<Record<string, string>> = {}): string[] {
  const lines: string[] = [];
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((policy) =>
    (policy.Properties.Roles as unknown[]).some((role) => (role as { Ref?: string }).Ref === roleLogicalId),
  );
  for (const policy of policies) {
    for (const statement of policy.Properties.PolicyDocument.Statement as Statement[]) {
      if (statement.Effect !== 'Allow') throw new Error(`unexpected ${statement.Effect} in ${roleLogicalId}`);
      const actions = [statement.Action].flat();
      const resources = [statement.Resource].flat();
      const condition = statement.Condition ? ` if ${JSON.stringify(statement.Condition)}` : '';
      for (const action of actions) for (const resource of resources) lines.push(`${action} ${flatten(resource, names)}${condition}`);
    }
  }
  return lines.sort();
}

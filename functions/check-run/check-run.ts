/**
 * The first step of every run, before anything is listed or extracted: checks the run's merged settings and its
 * locations, and works out what the run covers (its scope). Knows nothing of Lambda.
 *
 * Ended at once (OutputUnavailableError): an output the deployment may not write, or whose bucket does not exist.
 * Refused, each with a cause naming what to change (RunRefusedError): an unknown setting (a typo would otherwise
 * be ignored), a setting of the wrong type or out of range (which would otherwise stop the execution in the Map
 * state with States.Runtime, which no Catch handles), input and output locations that overlap, an output bucket
 * that does not exist, an output whose features/ holds files this pipeline did not write, an input prefix or
 * manifest with nothing in it. The refusal costs a second, where it would otherwise cost the retries of every
 * step and end in a report of nothing.
 */
import { type CheckedRun, type CheckRunEvent, type RunScope, runSettingsSchema, stepResultFields } from '../../statemachine/contracts.ts';
import { locationPrefix } from '../shared/dataset/run-scope.ts';
import { OutputUnavailableError, RunRefusedError, StorageUnavailableError } from '../shared/errors.ts';
import { featuresPrefix, isPartialWrite, partRunId } from '../shared/run-layout.ts';
import { separationProblem } from '../shared/storage/locations.ts';
import { openStorage } from '../shared/storage/open-storage.ts';
import { normalizePrefix, readIfPresent, type Storage, type StorageLocation } from '../shared/storage/storage.ts';

export async function checkRun(event: CheckRunEvent): Promise<CheckedRun> {
  const results = new Set<string>(stepResultFields);
  const given = Object.fromEntries(Object.entries(event.run).filter(([key]) => !results.has(key)));
  const parsed = runSettingsSchema.safeParse(given);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown setting${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}`
        : `${issue.path.join('.') || 'the run'}: ${issue.message}`,
    );
    throw new RunRefusedError(`invalid run settings: ${problems.join('; ')}`);
  }
  const settings = {
    ...parsed.data,
    input: { bucket: parsed.data.input.bucket, prefix: normalizePrefix(parsed.data.input.prefix) },
    output: { bucket: parsed.data.output.bucket, prefix: normalizePrefix(parsed.data.output.prefix) },
  };
  const problem = separationProblem(settings.input, settings.output);
  if (problem) throw new RunRefusedError(problem);

  const output = storageAt(settings.output, 'output');
  checkGranted(settings.output, event.grantedOutput);
  await checkOutput(output);
  await checkInput(settings);
  const scope: RunScope =
    settings.manifest !== null
      ? { kind: 'incremental' }
      : { kind: sameLocation(settings.input, event.deployedInput) ? 'full' : 'scoped', prefix: locationPrefix(settings.input) };
  const emptyResults = Object.fromEntries(stepResultFields.map((field) => [field, null])) as Record<
    (typeof stepResultFields)[number],
    null
  >;
  return { ...settings, scope, startedAt: event.startedAt, ...emptyResults };
}

/**
 * The output is one the deployment may write: its bucket, under one of the granted prefixes exactly (the roles'
 * grants are `<prefix>runs/*`, `<prefix>features/*`...: a prefix inside a granted one is not granted). Otherwise no
 * step could write there, not even the report: the run ends at once.
 */
function checkGranted(output: StorageLocation, granted: CheckRunEvent['grantedOutput']): void {
  const prefixes = granted.prefixes.split(',').map(normalizePrefix);
  if (output.bucket === granted.bucket && prefixes.includes(normalizePrefix(output.prefix))) return;
  throw new OutputUnavailableError(
    `the output ${locationPrefix(output)} is not one this deployment may write (${prefixes.map((prefix) => locationPrefix({ bucket: granted.bucket, prefix })).join(', ')}): ` +
      'choose one of those, or grant it: deploy with -c extraOutputPrefixes=<prefix> (infra/settings.ts)',
  );
}

/** A location's storage, or a refusal naming the setting when it is neither a bucket name nor a folder. */
function storageAt(location: StorageLocation, setting: string): Storage {
  try {
    return openStorage(location);
  } catch (error) {
    throw new RunRefusedError(`${setting}: ${(error as Error).message}`);
  }
}

/** The output can be listed (its bucket exists, we may read it), and its features/ holds only this pipeline's parts. */
async function checkOutput(output: Storage): Promise<void> {
  const foreign: string[] = [];
  await refuseMissing(output, OutputUnavailableError, async () => {
    for await (const object of output.list(featuresPrefix)) {
      if (partRunId(object.key) === undefined && !isPartialWrite(object.key)) foreign.push(output.locationOf(object.key));
    }
  });
  if (foreign.length > 0) {
    throw new RunRefusedError(
      `${output.locationOf(featuresPrefix)} holds ${foreign.length} file(s) this pipeline did not write, e.g. ${foreign.slice(0, 3).join(', ')}: ` +
        'move them out of features/, or choose another output',
    );
  }
}

/** Something to read: an input prefix with at least one object, or a manifest that exists. */
async function checkInput({ input, manifest }: Pick<CheckedRun, 'input' | 'manifest'>): Promise<void> {
  if (manifest !== null) {
    const storage = storageAt({ bucket: manifest.bucket }, 'manifest');
    const bytes = await refuseMissing(storage, RunRefusedError, () => readIfPresent(storage, manifest.key));
    if (!bytes) throw new RunRefusedError(`no manifest at ${storage.locationOf(manifest.key)}`);
    return;
  }
  const storage = storageAt(input, 'input');
  const found = await refuseMissing(storage, RunRefusedError, async () => {
    for await (const _ of storage.list()) return true;
    return false;
  });
  if (!found) throw new RunRefusedError(`no images under ${locationPrefix(input)}: nothing to do (a mistyped prefix?)`);
}

/** A bucket that does not exist, or a folder that is a file, is a refusal, not a store to retry. */
async function refuseMissing<T>(storage: Storage, refusal: typeof RunRefusedError, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const cause = (error as { cause?: { name?: string; code?: string } }).cause;
    if (error instanceof StorageUnavailableError && cause?.name === 'NoSuchBucket') {
      throw new refusal(`no bucket ${storage.root}: create it, or fix the location`);
    }
    if (error instanceof StorageUnavailableError && cause?.code === 'ENOTDIR') throw new refusal(`${storage.root} is a file, not a folder`);
    throw error;
  }
}

function sameLocation(a: StorageLocation, b: StorageLocation): boolean {
  return a.bucket === b.bucket && normalizePrefix(a.prefix) === normalizePrefix(b.prefix);
}

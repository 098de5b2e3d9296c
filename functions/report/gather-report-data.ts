/**
 * Everything the report shows about a run, from what the run left behind: the validator's report.json, the
 * failure records, the run's staged parts, the PCA model and reduced parts, and the step results the state
 * machine holds (publishing's included). Each source may be missing (the run failed early, a step was skipped): the page then says so.
 */

import { type StepError, stepErrorText } from '../../statemachine/contracts.ts';
import { sampleVectors } from '../shared/dataset/row-sample.ts';
import { describeScope } from '../shared/dataset/run-scope.ts';
import { ObjectReadError, PcaError } from '../shared/errors.ts';
import { decodePcaModel, explainedVarianceRatio, keptVarianceShare, type PcaModel } from '../shared/pca/pca-model.ts';
import { failuresKey, reportKey } from '../shared/run-layout.ts';
import type { Storage } from '../shared/storage/storage.ts';
import { countLabels } from './count-labels.ts';
import { readFailures } from './read-failures.ts';
import { readValidationReport } from './read-validation-report.ts';
import type { PcaSection, ReportData } from './render-report.ts';
import { sampleReducedPoints } from './sample-reduced-points.ts';
import { makeThumbnails } from './thumbnails.ts';
import { analyseRunVectors, shownPaths } from './vector-analysis.ts';

/** What the report reads of the PCA step's result: where the model is, and whether this run fitted it. */
export interface PcaStepResult {
  model: string;
  fitted: boolean;
  millis?: unknown;
}

export interface ReportRequest {
  runId: string;
  output: Storage;
  /** Whether the run's input asked for PCA. */
  pcaRequested: boolean;
  /** Step results as the state machine holds them (any may be absent). */
  steps: {
    reduce?: unknown;
    validation?: unknown;
    publish?: unknown;
    publishError?: StepError | null;
    /** CheckRun's refusal: the run did nothing else. */
    checkError?: StepError | null;
    pca?: PcaStepResult | null;
    pcaError?: StepError | null;
    /** The index step's result or caught error (it ran only when the run's index setting asked). */
    index?: { action: string; rows: number; location: string; millis?: unknown } | null;
    indexError?: StepError | null;
  };
  /** The execution's start (ISO 8601), for the run's elapsed time. */
  startedAt?: string;
  now?: Date;
  maxPoints?: number;
  examplesPerCode?: number;
  /** Vectors the kNN and near-duplicate analyses take at most of the run's sample, and the run size above which copies are not counted. */
  maxVectors?: number;
  maxVectorRows?: number;
}

export async function gatherReportData(request: ReportRequest): Promise<ReportData> {
  const {
    runId,
    output,
    steps,
    now = new Date(),
    maxPoints = 2000,
    examplesPerCode = 5,
    maxVectors = sampleVectors,
    maxVectorRows = 200_000,
  } = request;
  const notes: string[] = [];
  const report = await readValidationReport(output, runId);
  if (steps.checkError) {
    notes.push(`The run was refused before it started, and changed nothing: ${errorText(steps.checkError)}.`);
  } else if (!report) {
    notes.push(`No validation report at ${output.locationOf(reportKey(runId))}: counts and checks are missing.`);
  }
  const validation = (steps.validation ?? {}) as { passed?: unknown; summary?: unknown };
  const validationFailed = validation.passed === false || report?.passed === false;
  if (validationFailed) notes.push('Nothing was published: features/ is as it was before this run.');
  if (steps.publishError) {
    notes.push(
      `The run passed validation but could not be published: ${errorText(steps.publishError)}. No image is missing ` +
        "from features/; it may hold some of this run's parts beside the rows they replace until publishing is done.",
    );
  }

  if (steps.indexError) {
    notes.push(
      `The dataset is published, but its nearest-neighbour index was not updated: ${errorText(steps.indexError)}. ` +
        '`featurize similar` searches exactly until the next update (the next run with the index on, or `featurize index`).',
    );
  }

  const pca = await pcaSection(request, validationFailed, maxPoints);
  const pcaSource = pca.model?.source;

  let labels: ReportData['labels'];
  if (report?.labels) {
    labels = { counts: report.labels, source: 'from the validation report' };
  } else {
    labels = { counts: await countLabels(output, runId), source: "counted from the run's staged parts" };
  }

  // Examples with their messages come from the failure records; report.json names only the paths.
  const records = await readFailures(output, runId, examplesPerCode);
  let failures: ReportData['failures'];
  if (report?.failureCodes) {
    const entries = Object.entries(report.failureCodes);
    failures = {
      counts: Object.fromEntries(entries.map(([code, { count }]) => [code, count])),
      examples:
        records?.examples ??
        Object.fromEntries(entries.map(([code, { examples }]) => [code, examples.map((path) => ({ path, message: '' }))])),
      source: 'Counts from the validation report',
    };
  } else if (records) {
    failures = { ...records, source: `Counted from ${output.locationOf(failuresKey(runId))}` };
  }

  const vectors = steps.checkError ? undefined : await analyseRunVectors(output, runId, maxVectors, maxVectorRows);
  const thumbnails = await makeThumbnails([
    ...Object.values(failures?.examples ?? {}).flatMap((examples) => examples.map((e) => e.path)),
    ...(vectors?.state === 'done' ? shownPaths(vectors.analysis) : []),
  ]);

  return {
    runId,
    renderedAt: now.toISOString(),
    passed: report?.passed ?? (typeof validation.passed === 'boolean' ? validation.passed : null),
    ...(typeof validation.summary === 'string' ? { summary: validation.summary } : {}),
    extractor: {
      ...definedOnly({ modelId: pcaSource?.modelId, engine: pcaSource?.engine, preprocessing: pcaSource?.preprocessing }),
      ...definedOnly({ modelId: report?.modelId, engine: report?.engine, preprocessing: report?.preprocessing }),
    },
    ...(report?.scope ? { scope: describeScope(report.scope) } : {}),
    counts: report?.counts ? definedOnly(report.counts) : countedFromParts(labels, failures),
    ...(report?.checks ? { checks: report.checks.map((c) => ({ name: c.name, passed: c.passed, detail: describe(c.detail) })) } : {}),
    labels,
    ...(failures ? { failures } : {}),
    pca: pca.section,
    ...(vectors ? { vectors } : {}),
    thumbnails,
    timings: timings(steps, request.startedAt, now),
    notes,
  };
}

async function pcaSection(
  request: ReportRequest,
  validationFailed: boolean,
  maxPoints: number,
): Promise<{ section: PcaSection; model?: PcaModel }> {
  const { steps, output, runId } = request;
  if (steps.pcaError) return { section: { state: 'failed', error: errorText(steps.pcaError) } };
  if (!steps.pca) {
    if (!request.pcaRequested) return { section: { state: 'not-requested' } };
    const reason = validationFailed
      ? 'the validation did not pass.'
      : steps.publishError
        ? 'the run could not be published.'
        : 'the state machine did not run the PCA step.';
    return { section: { state: 'skipped', reason } };
  }
  const result = steps.pca;
  let model: PcaModel;
  try {
    model = decodePcaModel(Buffer.from(await output.read(result.model)).toString('utf8'), output.locationOf(result.model));
  } catch (error) {
    if (error instanceof ObjectReadError || error instanceof PcaError) return { section: { state: 'failed', error: error.message } };
    throw error;
  }
  const ratio = explainedVarianceRatio(model);
  let running = 0;
  const cumulative = Array.from(ratio, (share) => (running += share));
  const selection =
    'components' in model.selection
      ? `a fixed number of components: ${model.selection.components}`
      : `the fewest components explaining at least ${(model.selection.varianceShare * 100).toFixed(1)}% of the variance`;
  return {
    model,
    section: {
      state: 'done',
      modelId: model.id,
      modelKey: result.model,
      fitted: result.fitted,
      selection,
      components: model.components.length,
      varianceShare: keptVarianceShare(model),
      samples: model.samples,
      cumulative,
      firstShares: [ratio[0] ?? 0, ratio[1] ?? 0],
      ...(model.components.length >= 2 ? { scatter: await sampleReducedPoints(output, runId, model.id, maxPoints) } : {}),
    },
  };
}

function errorText(error: StepError): string {
  return stepErrorText(error) || 'unknown error';
}

/** Durations from the steps' results (the project's steps return `millis`, a number or named parts). */
function timings(steps: ReportRequest['steps'], startedAt: string | undefined, now: Date): ReportData['timings'] {
  const rows: ReportData['timings'] = [];
  const started = startedAt ? Date.parse(startedAt) : Number.NaN;
  if (Number.isFinite(started)) rows.push({ step: 'run, from its start to this report', millis: now.getTime() - started });
  const extract = (steps.reduce as { extractMillis?: { batches?: unknown; inference?: unknown } } | null | undefined)?.extractMillis;
  if (typeof extract?.batches === 'number') rows.push({ step: 'extract, summed over its batches', millis: extract.batches });
  if (typeof extract?.inference === 'number') rows.push({ step: 'extract: inference, summed', millis: extract.inference });
  for (const [step, result] of [
    ['reduce', steps.reduce],
    ['validate', steps.validation],
    ['publish', steps.publish],
    ['pca', steps.pca],
    ['index', steps.index],
  ] as const) {
    const millis = (result as { millis?: unknown } | null | undefined)?.millis;
    if (typeof millis === 'number') rows.push({ step, millis });
    if (millis && typeof millis === 'object') {
      for (const [part, value] of Object.entries(millis)) {
        if (typeof value === 'number') rows.push({ step: part === 'total' ? step : `${step}: ${part}`, millis: value });
      }
    }
  }
  return rows;
}

/** Without report.json, rows and failures are counted from the parts and records; what was listed stays unknown. */
function countedFromParts(labels: ReportData['labels'], failures: ReportData['failures']): ReportData['counts'] {
  const sum = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);
  return { rows: sum(labels?.counts ?? {}), ...(failures ? { failures: sum(failures.counts) } : {}) };
}

function describe(detail: unknown): string {
  if (detail === undefined || detail === null) return '';
  return typeof detail === 'string' ? detail : JSON.stringify(detail);
}

function definedOnly<T extends Record<string, unknown>>(record: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}

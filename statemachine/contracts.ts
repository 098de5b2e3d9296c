/**
 * What the state machine passes between its states: each step's event (what its Task state's Parameters build,
 * checked by the handler with these schemas) and its result (what the state's ResultPath keeps for the next
 * steps). One module, beside the definition and the list of steps, so that no step imports another's types.
 */
import { z } from 'zod';
import { type FailureCode, failureCodes } from '../functions/shared/failures.ts';
import { pcaRequestSchema, pcaSettingSchema } from '../functions/shared/pca/pca-setting.ts';
import { runIdPattern } from '../functions/shared/run-layout.ts';
import type { IndexUpdate } from '../functions/shared/vectors/vector-index.ts';
import { maxInputBytesPerBatch } from './definition.ts';

// --- shared shapes -----------------------------------------------------------------------------------------------

export const storageLocationSchema = z.object({
  bucket: z.string().min(1),
  prefix: z.string().default(''),
});

export const runIdSchema = z.string().regex(runIdPattern, 'a run id: letters, digits, dot, dash, underscore (max 80)');

/**
 * A step's error as a state machine Catch records it (`{ Error, Cause }`), where the Cause of a Lambda error is
 * the function's JSON error (`{ errorType, errorMessage, trace }`).
 */
export const stepErrorSchema = z.looseObject({ Error: z.string().optional(), Cause: z.string().optional() });

export type StepError = z.infer<typeof stepErrorSchema>;

/** `Error: message`, the message being a Lambda error's errorMessage rather than its stack trace; '' when empty. */
export function stepErrorText({ Error: name, Cause: cause }: StepError): string {
  let message = cause;
  try {
    const parsed = JSON.parse(cause ?? '') as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') message = parsed.errorMessage;
  } catch {
    // A plain-text cause (a timeout, a Step Functions error) is kept as it is.
  }
  return [name, message].filter(Boolean).join(': ');
}

const count = z.number().int().nonnegative();
const failureCodeCounts = z.partialRecord(z.enum(Object.keys(failureCodes) as [FailureCode, ...FailureCode[]]), count);

/**
 * What a run covers, and so the rows of the dataset it replaces (functions/shared/dataset/run-scope.ts):
 * - `full`: the deployment's whole input prefix (locally: the folder or prefix given), every path under `prefix`;
 * - `scoped`: a prefix below it (`featurize start --prefix images/Kiwi/`), every path under `prefix`;
 * - `incremental`: the keys of a manifest (uploads, `featurize watch`), exactly the run's own paths.
 * `prefix` is a location prefix as paths are written: `s3://bucket/images/Kiwi/` or `/abs/folder/`.
 */
export const runScopeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.enum(['full', 'scoped']), prefix: z.string().min(1) }),
  z.object({ kind: z.literal('incremental') }),
]);

export type RunScope = z.infer<typeof runScopeSchema>;
export type RunKind = RunScope['kind'];

// --- CheckRun ------------------------------------------------------------------------------------------------------

/**
 * A run's settings once the deployment's defaults and the execution input are merged (the ApplyDefaults state):
 * what CheckRun accepts. Every field named, none unknown, each within the limit Step Functions or Lambda sets, so
 * that no state after it meets a value it cannot use (a string MaxConcurrency, a fractional
 * ToleratedFailurePercentage: the Distributed Map's ToleratedFailurePercentagePath must resolve to an integer
 * from 0 to 100, https://docs.aws.amazon.com/step-functions/latest/dg/maprun-fail-threshold.html).
 */
export const runSettingsSchema = z.strictObject({
  runId: runIdSchema,
  input: z.strictObject({ bucket: z.string().min(1), prefix: z.string() }),
  manifest: z.strictObject({ bucket: z.string().min(1), key: z.string().min(1) }).nullable(),
  output: z.strictObject({ bucket: z.string().min(1), prefix: z.string() }),
  maxItemsPerBatch: z.int().min(1).max(100_000),
  maxBytesPerBatch: z.int().min(1).max(maxInputBytesPerBatch),
  // 0: as many as Step Functions runs (10,000 child executions at once).
  maxConcurrency: z.int().min(0).max(10_000),
  toleratedFailurePercentage: z.int().min(0).max(100),
  pca: z.unknown().refine((value) => pcaSettingSchema.safeParse(value).success, {
    message: 'expected null, a variance share in (0, 1), a whole number of components, {}, { varianceShare }, { components } or { model }',
  }),
  /** Bring the dataset's nearest-neighbour index (<output>/index/) in line with features/ once the run is published. */
  index: z.boolean(),
});

export type RunSettings = z.infer<typeof runSettingsSchema>;

/**
 * The fields the definition's Prepare state adds for later states to fill (each step's result or caught error):
 * not settings; CheckRun sets them to null.
 */
export const stepResultFields = [
  'checkError',
  'mapError',
  'reduce',
  'validation',
  'publish',
  'publishError',
  'pcaResult',
  'pcaError',
  'indexResult',
  'indexError',
] as const;

export const checkRunEventSchema = z.object({
  /** The merged settings, unchecked: whatever the execution input made of them. */
  run: z.record(z.string(), z.unknown()),
  /** The deployment's input location: a run over it is `full`, over anything else `scoped`. */
  deployedInput: storageLocationSchema,
  /** Where the deployment may write: its output bucket, and the prefixes there, comma-separated (GrantedOutputPrefixes). */
  grantedOutput: z.object({ bucket: z.string().min(1), prefixes: z.string() }),
  /** When the execution started ($$.Execution.StartTime). */
  startedAt: z.string().min(1),
});

export type CheckRunEvent = z.infer<typeof checkRunEventSchema>;

/** The run as every later state reads it: its checked settings, what it covers, and empty slots for step results. */
export type CheckedRun = RunSettings & { scope: RunScope; startedAt: string } & Record<(typeof stepResultFields)[number], null>;

// --- Extract (the Distributed Maps' children) ----------------------------------------------------------------------

/**
 * One Distributed Map batch, as the map's ItemBatcher delivers it to the extract function and as the map's
 * ResultWriter records it (`Input`) for the reducer. Items' keys are relative to the input bucket.
 */
export const batchEventSchema = z.object({
  Items: z
    .array(
      z.looseObject({
        Key: z.string().min(1),
        Size: z.number().int().nonnegative().optional(),
        Etag: z.string().optional(),
      }),
    )
    .min(1),
  BatchInput: z.object({
    runId: runIdSchema,
    input: storageLocationSchema.pick({ bucket: true }),
    output: storageLocationSchema,
  }),
});

export type BatchEvent = z.infer<typeof batchEventSchema>;

/** What the state machine keeps of a batch (small: the map's ResultWriter stores one per batch). */
export interface ExtractBatchResult {
  runId: string;
  batchId: string;
  /** Shard key relative to the output location. */
  shard: string;
  items: number;
  vectors: number;
  failures: number;
  failureCodes: Partial<Record<FailureCode, number>>;
  engine: string;
  modelId: string;
  /** How images became the model's input (resize mode, size...): one value for a whole run. */
  preprocessing: string;
  /** The batch's smallest and largest key (UTF-8 byte order): the reducer orders parts by them. */
  keys: { first: string; last: string };
  millis: { total: number; inference: number };
}

// --- Reduce -----------------------------------------------------------------------------------------------------

/**
 * What the state machine passes every step after the map (PlanReduce, Validate): the run's settings and, when
 * the map failed, the error its Catch recorded.
 */
export const runEventSchema = z.object({
  runId: runIdSchema,
  input: storageLocationSchema,
  /** The JSON manifest of new keys of an incremental run; null for a full run over the input prefix. */
  manifest: z.object({ bucket: z.string().min(1), key: z.string().min(1) }).nullable(),
  output: storageLocationSchema,
  /** What the run covers (CheckRun). */
  scope: runScopeSchema,
  /** When the execution started: recorded in every part it writes. */
  startedAt: z.string().min(1),
  mapError: stepErrorSchema.nullable(),
});

export type RunEvent = z.infer<typeof runEventSchema>;

export const reduceResultSchema = z.object({
  runId: z.string(),
  /** Items across the map's result files. */
  listed: count,
  /** Rows written to this run's staged parts. */
  rows: count,
  failures: count,
  failureCodes: failureCodeCounts,
  /** This run's staged parts (runs/<runId>/parts/), keys relative to the output location. */
  parts: z.array(z.string()),
  /** The plan's groups: each has its audit (runs/<runId>/reduce/audits/), which Validate reads. */
  groups: count,
  /** Null when no batch succeeded. */
  modelId: z.string().nullable(),
  engine: z.string().nullable(),
  /** Wall time of the reduce, from PlanReduce's start to FinishReduce's end (the run report's timings). */
  millis: count,
  /** The extract function's time, summed over the succeeded batches: all of it, and inference alone. */
  extractMillis: z.object({ batches: z.number().nonnegative(), inference: z.number().nonnegative() }),
});

/** What the state machine keeps of the reduce steps, FinishReduce's result (small: it travels in the execution's state). */
export type ReduceResult = z.infer<typeof reduceResultSchema>;

// --- PlanReduce, ReduceParts (ReducePart), FinishReduce: the reduce fan-out -------------------------------------

/**
 * PlanReduce takes the run's event, as every step after the map, and how many ReduceParts children the runner
 * runs at once (the definition's ${ReduceParallelism}): a run large enough is cut into at least that many parts.
 */
export const planReduceEventSchema = runEventSchema.extend({ reduceParallelism: z.int().min(1).max(10_000) });

export type PlanReduceEvent = z.infer<typeof planReduceEventSchema>;

const modelFields = { modelId: z.string(), engine: z.string(), preprocessing: z.string() };

/**
 * One group of the plan: consecutive batches (in key order) of about FEATURIZE_PART_ROWS vectors, one item of
 * the ReduceParts map and one child of it. The map's ItemReader reads the plan (a JSON array of these).
 */
export const reduceGroupSchema = z.object({
  index: count,
  /** The staged part it writes (relative to the output location); null when its batches made no vector. */
  part: z.string().min(1).nullable(),
  /** Its batches' shards, relative to the output location, in key order. */
  shards: z.array(z.string().min(1)).min(1),
  /** Vectors its shards hold, as the map's results say. */
  rows: count,
  /** Its smallest and largest key (relative to the input bucket): the part's path_min and path_max. */
  keys: z.object({ first: z.string(), last: z.string() }),
  /**
   * The keys of the input its child lists anew for the accounting (AuditPart): those after `after` up to and
   * including `through`, null meaning from the start or to the end. The groups' ranges tile the whole key space,
   * so the children's listings together are one listing of the input, whatever the map's results say.
   */
  listRange: z.object({ after: z.string().nullable(), through: z.string().nullable() }),
  /** The share of the run's rows sampled for the report, by their paths' rank (functions/shared/dataset/row-sample.ts). */
  sampleShare: z.number().min(0).max(1),
  ...modelFields,
});

export type ReduceGroup = z.infer<typeof reduceGroupSchema>;

export const planReduceResultSchema = z.object({
  runId: runIdSchema,
  /** The plan object, by full bucket key: the ReduceParts map's s3:getObject ItemReader reads it. */
  plan: z.object({ bucket: z.string().min(1), key: z.string().min(1) }),
  groups: count,
  /** Items across the map's result files. */
  listed: count,
  /** Items of failed or never-run batches, recorded in the batch failures file. */
  batchFailures: count,
  /** Null when no batch succeeded. */
  modelId: z.string().nullable(),
  engine: z.string().nullable(),
  extractMillis: z.object({ batches: z.number().nonnegative(), inference: z.number().nonnegative() }),
  /** When the reduce began (epoch ms): FinishReduce reports the fan-out's wall time from it. */
  startedMs: z.number().nonnegative(),
});

/** What the state machine keeps of PlanReduce at $.reducePlan. */
export type PlanReduceResult = z.infer<typeof planReduceResultSchema>;

/**
 * One ReduceParts child: its one group (ItemBatcher MaxItemsPerBatch 1) and the run it belongs to. Both of the
 * child's states (ReducePart, then AuditPart) take it.
 */
export const reducePartEventSchema = z.object({
  Items: z.tuple([reduceGroupSchema]),
  BatchInput: z.object({
    runId: runIdSchema,
    input: storageLocationSchema,
    /** An incremental run's manifest: then Validate reads the inputs from it, and AuditPart lists nothing. */
    manifest: z.object({ bucket: z.string().min(1), key: z.string().min(1) }).nullable(),
    output: storageLocationSchema,
    scope: runScopeSchema,
    /** When the execution started: recorded in the part. */
    startedAt: z.string().min(1),
    /** The run's pca setting: when it is a fit, ReducePart writes its part's scatter moments for Pca to merge. */
    pca: pcaSettingSchema,
  }),
});

export type ReducePartEvent = z.infer<typeof reducePartEventSchema>;

const tallySchema = z.object({ count, examples: z.array(z.string()) });
const digestsSchema = z.record(z.string(), z.tuple([count, z.string().regex(/^[0-9a-f]+$/)]));

/**
 * What AuditPart found in one group's staged part, read back with an independent reader, and in its range of the
 * input listed anew: written to runs/<runId>/reduce/audits/NNNNN.json, summed by Validate. Small: counts, a few
 * examples per check, labels and path digests per folder.
 */
export const partAuditSchema = z.object({
  runId: runIdSchema,
  index: count,
  /** The part audited (relative to the output location) as it was read, or null when the group has none. */
  part: z.object({ key: z.string(), size: count, etag: z.string().nullable() }).nullable(),
  rows: count,
  labels: z.record(z.string(), count),
  /** The part's key-value metadata: model, engine, preprocessing. */
  metadata: z.record(z.string(), z.string()).nullable(),
  /** Offending rows per row check (schema, vector-length, finite, range, non-zero, labels, scope, duplicates within the part). */
  tallies: z.record(z.string(), tallySchema),
  /** The least and greatest path of the part, as read: Validate rereads only parts whose ranges overlap. */
  bounds: z.object({ min: z.string(), max: z.string() }).nullable(),
  /** Path digests (path-digest.ts) per folder of the part's rows. */
  placed: digestsSchema,
  /** Path digests per folder of the input keys in the group's listRange, or null when the run's inputs are a manifest. */
  listed: digestsSchema.nullable(),
  millis: count,
});

export type PartAudit = z.infer<typeof partAuditSchema>;

/** What AuditPart returns to its child execution (the ReduceParts map's result): a line of the map's results. */
export type PartAuditSummary = Pick<PartAudit, 'runId' | 'index' | 'rows' | 'millis'> & { listed: number | null };

/** A group's outcome, written by its child to runs/<runId>/reduce/stats/NNNNN.json: all FinishReduce reads. */
export const reducePartStatsSchema = z.object({
  runId: runIdSchema,
  index: count,
  /** The staged part written, or null (no vector in the group). */
  part: z.string().nullable(),
  rows: count,
  failures: count,
  failureCodes: failureCodeCounts,
  /** The group's failure records (runs/<runId>/reduce/failures/NNNNN.jsonl), or null when it has none. */
  failureRecords: z.string().nullable(),
  ...modelFields,
});

export type ReducePartStats = z.infer<typeof reducePartStatsSchema>;

export const finishReduceEventSchema = z.object({
  output: storageLocationSchema,
  plan: planReduceResultSchema,
  /** The ReduceParts map's error when it failed (its Catch): FinishReduce then names the failed children's own. */
  mapError: stepErrorSchema.nullable(),
});

export type FinishReduceEvent = z.infer<typeof finishReduceEventSchema>;

// --- Validate ---------------------------------------------------------------------------------------------------

export const validateEventSchema = runEventSchema.extend({
  toleratedFailurePercentage: z.number().min(0).max(100),
  reduce: reduceResultSchema,
});

export type ValidateEvent = z.infer<typeof validateEventSchema>;

export interface Counts {
  listed: number;
  rows: number;
  /** Hidden files and folder markers: listed, not images. */
  skipped: number;
  /** Inputs that gave no vector, skipped ones aside: bad files, and failures of the pipeline. */
  failures: number;
}

/** What the state machine keeps at $.validation: its Fail state uses `summary` as the cause. */
export interface ValidationResult {
  passed: boolean;
  summary: string;
  /** The report's key, relative to the output location. */
  report: string;
  counts: Counts;
  /** Wall time of the step (the run report's timings). */
  millis: number;
}

// --- Publish ----------------------------------------------------------------------------------------------------

export const publishEventSchema = z.object({
  runId: runIdSchema,
  output: storageLocationSchema,
});

export type PublishEvent = z.infer<typeof publishEventSchema>;

/** What the state machine keeps of the publish step (small: it travels in the execution's state). */
export interface PublishResult {
  runId: string;
  kind: RunKind;
  /** The run's parts in features/, keys relative to the output location. */
  parts: string[];
  /** Parts removed from features/: those holding only rows the run replaced, and leftovers. */
  removedParts: number;
  /** Older parts rewritten without the rows the run replaced. */
  rewrittenParts: number;
  /** Parts of runs started after this one that kept paths it also had (their rows are newer). */
  newerParts: number;
  /** The run whose interrupted publish this one finished first, if any. */
  repaired: string | null;
  millis: number;
}

// --- Pca, PcaParts (PcaPart), PublishPca: the PCA fan-out ------------------------------------------------------

/** A share in (0, 1), a number of components, {}, { varianceShare }, { components } or { model: "<uri>" }. */
export const pcaEventSchema = z.object({
  runId: runIdSchema,
  output: storageLocationSchema,
  pca: pcaRequestSchema,
});

export type PcaEvent = z.infer<typeof pcaEventSchema>;

/**
 * One item of the PCA plan (runs/<runId>/pca/plan.json, a JSON array of these): a features part to reduce, as Pca
 * listed it (key relative to the output location; version: its ETag, or its mtime locally).
 */
export const pcaPlanItemSchema = z.object({ key: z.string().min(1), size: count, version: z.string() });

export type PcaPlanItem = z.infer<typeof pcaPlanItemSchema>;

/** What Pca returns at $.pcaPlan: the model, and the plan the PcaParts map reads. */
export const pcaPlanSchema = z.object({
  runId: runIdSchema,
  modelId: z.string().min(1),
  /** The model's key relative to the output location. */
  model: z.string().min(1),
  fitted: z.boolean(),
  components: count,
  varianceShare: z.number(),
  /** The plan object, by full bucket key: the PcaParts map's s3:getObject ItemReader reads it. */
  plan: z.object({ bucket: z.string().min(1), key: z.string().min(1) }),
  /** This run's parts in the plan. */
  parts: count,
  /** Older parts in the plan: publishing rewrote their source since they were reduced. */
  rewrittenParts: count,
  /** When Pca began (epoch ms): PublishPca reports the fan-out's time from it. */
  startedMs: z.number().nonnegative(),
  millis: z.object({ covariance: count, eigen: count, plan: count }),
});

export type PcaPlan = z.infer<typeof pcaPlanSchema>;

/** One PcaParts child: its one planned part (ItemBatcher MaxItemsPerBatch 1) and the model to reduce it with. */
export const pcaPartEventSchema = z.object({
  Items: z.tuple([pcaPlanItemSchema]),
  BatchInput: z.object({ runId: runIdSchema, output: storageLocationSchema, modelId: z.string().min(1) }),
});

export type PcaPartEvent = z.infer<typeof pcaPartEventSchema>;

/** What PcaPart returns (a line of the map's results): the staged reduced part, or null when its source was gone. */
export interface PcaPartResult {
  source: string;
  staged: string | null;
  /** The version of the source part it read. */
  version: string | null;
  rows: number;
}

/** PublishPca: the run (its id names the lease holder), the output, and what Pca planned. */
export const publishPcaEventSchema = z.object({
  runId: runIdSchema,
  output: storageLocationSchema,
  plan: pcaPlanSchema,
});

export type PublishPcaEvent = z.infer<typeof publishPcaEventSchema>;

export interface PcaRunResult {
  runId: string;
  modelId: string;
  /** The model's key relative to the output location. */
  model: string;
  /** False when a saved model was applied. */
  fitted: boolean;
  components: number;
  /** The share of the total variance of the fitted vectors that the kept components explain. */
  varianceShare: number;
  /** Rows of this run reduced. */
  rows: number;
  /** This run's parts reduced. */
  parts: number;
  /** Older reduced parts of the model's partition reduced again: publishing rewrote their source since. */
  rewrittenParts: number;
  /** Reduced parts removed: their source part is no longer in features/ (a full run replaced it, or it emptied). */
  removedParts: number;
  /** Planned parts PublishPca reduced again itself: a publish changed their source after PcaPart read it. */
  reducedAgain: number;
  /** The folder of the reduced parts, relative to the output location. */
  dataset: string;
  /** covariance: merging the parts' moments; project: the PcaParts map and PublishPca; total: from Pca's start. */
  millis: { covariance: number; eigen: number; project: number; total: number };
}

// --- UpdateIndex ------------------------------------------------------------------------------------------------

/** The run whose publish the index follows (its id names the lease holder), and the dataset. */
export const updateIndexEventSchema = z.object({
  runId: runIdSchema,
  output: storageLocationSchema,
});

export type UpdateIndexEvent = z.infer<typeof updateIndexEventSchema>;

/** What the state machine keeps at $.indexResult: what the update did (vector-index.ts), where, how long it took. */
export type UpdateIndexResult = IndexUpdate & {
  /** The index's location (`<output>/index/`). */
  location: string;
  millis: number;
};

// --- Report -----------------------------------------------------------------------------------------------------

export const reportEventSchema = z.object({
  runId: runIdSchema,
  output: storageLocationSchema,
  /** The run's pca setting as given: only whether it is null matters here. */
  pca: z.unknown(),
  validation: z.unknown(),
  reduce: z.unknown(),
  publish: z.unknown(),
  publishError: stepErrorSchema.nullish(),
  pcaResult: z.looseObject({ model: z.string(), fitted: z.boolean(), millis: z.unknown() }).nullish(),
  pcaError: stepErrorSchema.nullish(),
  /** The index step's outcome: it never changes the run's, the report says it. */
  indexResult: z.looseObject({ action: z.string(), rows: z.number(), location: z.string() }).nullish(),
  indexError: stepErrorSchema.nullish(),
  /** CheckRun's refusal: the run did nothing but this report. */
  checkError: stepErrorSchema.nullish(),
  startedAt: z.string().optional(),
});

export type ReportEvent = z.infer<typeof reportEventSchema>;

export interface ReportResult {
  report: string;
  location: string;
  bytes: number;
}

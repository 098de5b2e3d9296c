/**
 * Every function the state machine runs, in the order a run reaches them: the one list that the stack (infra/),
 * the local runner (statemachine/local/) and the tests read.
 *
 * Adding a step: a folder `functions/<folder>/` whose `handler.ts` exports `handler`, an entry here, and its Task
 * state in featurize.asl.json invoking `${<Name>FunctionArn}`. The stack then deploys the function with the
 * access listed here (and a memory setting `<name>MemoryMb`), the local runner binds it, and
 * test/statemachine/steps.test.ts checks that every Task state maps to a step with a handler folder and back.
 */
import {
  batchFailuresKey,
  failuresKey,
  featuresPrefix,
  groupFailuresPrefix,
  indexPrefix,
  manifestsPrefix,
  mapResultsPrefix,
  partAuditsPrefix,
  partMomentsPrefix,
  pcaModelsPrefix,
  pcaPartitionsPrefix,
  pcaPlanKey,
  pcaStagedPartsPrefix,
  publishJournalKey,
  publishRecordKey,
  reducePlanKey,
  reducePrefix,
  reduceStatsPrefix,
  reportHtmlKey,
  reportKey,
  rewritesPrefix,
  rowSamplesPrefix,
  runsPrefix,
  shardsPrefix,
  stagedPartsPrefix,
} from '../functions/shared/run-layout.ts';

/** A key pattern of the input prefix or of the output prefix (IAM wildcards: `*`). */
export type KeyPattern = `input:${string}` | `output:${string}`;

/** The S3 access a step's function needs, each pattern as narrow as the run layout allows. */
export interface StepAccess {
  /** s3:ListBucket, for keys under these prefixes. */
  list?: readonly KeyPattern[];
  read?: readonly KeyPattern[];
  write?: readonly KeyPattern[];
  /** Written with the intermediate tag that the lifecycle rule expires: s3:PutObject and s3:PutObjectTagging. */
  writeTagged?: readonly KeyPattern[];
  delete?: readonly KeyPattern[];
  /** Takes the output's lease (functions/shared/dataset/publish-lease.ts): the deployment's DynamoDB table. */
  lease?: boolean;
}

export interface Step {
  /** PascalCase, as in the ASL: `${<name>FunctionArn}` is the placeholder of the function's ARN. */
  name: string;
  /** `functions/<folder>/handler.ts`. */
  folder: string;
  description: string;
  /**
   * How Lambda runs it: the container image (functions/extract/Dockerfile: native sharp, ONNX Runtime and LanceDB,
   * the model baked in; one image, each container step's handler named by the function's CMD), or a Node.js zip
   * on arm64 with the Parquet libraries from a layer.
   */
  packaging: 'container' | 'zip';
  /** The default of its memory setting (context `<name>MemoryMb`, environment `FEATURIZE_<NAME>_MEMORY_MB`). */
  memoryMb: number;
  /** Lambda's timeout; `per-batch`: sized from the batch size and the time per image (infra/extract-sizing.ts). */
  timeoutSeconds: number | 'per-batch';
  /** Its /tmp, when Lambda's default 512 MB is too small (https://docs.aws.amazon.com/lambda/latest/dg/API_EphemeralStorage.html). */
  ephemeralStorageMb?: number;
  access: StepAccess;
}

const anyRun = '*';
const output = (pattern: string): KeyPattern => `output:${pattern}`;
const runs = {
  all: output(`${runsPrefix}*`),
  shards: output(`${shardsPrefix(anyRun)}*`),
  stagedParts: output(`${stagedPartsPrefix(anyRun)}*`),
  failures: output(failuresKey(anyRun)),
  report: output(reportKey(anyRun)),
  reportHtml: output(reportHtmlKey(anyRun)),
};

/** Lambda's longest timeout: the steps after the map work over a whole run. */
const wholeRun = 900;

export const steps = [
  {
    name: 'CheckRun',
    folder: 'check-run',
    description: "Checks a run's settings and locations before anything is listed, and works out what it covers",
    packaging: 'zip',
    memoryMb: 256,
    timeoutSeconds: 60,
    // The input listed (one key suffices) or its manifest read; the output's features/ listed for foreign files.
    access: {
      list: ['input:', output(featuresPrefix)],
      read: [output(`${manifestsPrefix}*`)],
    },
  },
  {
    name: 'Extract',
    folder: 'extract',
    description: 'One Distributed Map batch of images to one Arrow shard of MobileNetV2 feature vectors',
    packaging: 'container',
    // Lambda gives CPU in proportion to memory: 3008 MB is ~1.7 vCPUs, so sharp decodes the next images while the
    // engine runs inference; it also fits the reduced memory quota new accounts start with.
    memoryMb: 3008,
    timeoutSeconds: 'per-batch',
    access: { read: ['input:*'], writeTagged: [runs.shards] },
  },
  {
    name: 'PlanReduce',
    folder: 'plan-reduce',
    description: "Groups a run's shards into the parts the ReduceParts map writes, one child per part",
    packaging: 'zip',
    // One small record per succeeded batch (~40,000 for 10 million images at 250 a batch), never a row.
    memoryMb: 1024,
    timeoutSeconds: wholeRun,
    // The run's map results (listed, read a line at a time); writes the plan and the failed batches' records.
    access: {
      list: [output(runsPrefix)],
      read: [output(`${mapResultsPrefix(anyRun)}*`)],
      writeTagged: [output(reducePlanKey(anyRun)), output(batchFailuresKey(anyRun))],
    },
  },
  {
    name: 'ReducePart',
    folder: 'reduce-part',
    description: "Compacts one group of a run's shards into one Parquet part staged under runs/<runId>/parts/",
    packaging: 'zip',
    // Holds one part's bytes (about 90 MB at the default 25,000 rows; FEATURIZE_PART_ROWS caps it).
    memoryMb: 3008,
    timeoutSeconds: wholeRun,
    // The group's shards; its part, stats, failure records, sample and (PCA) moments. Nothing of features/.
    access: {
      read: [runs.shards],
      writeTagged: [
        runs.stagedParts,
        output(`${reduceStatsPrefix(anyRun)}*`),
        output(`${groupFailuresPrefix(anyRun)}*`),
        output(`${partMomentsPrefix(anyRun)}*`),
        output(`${rowSamplesPrefix(anyRun)}*`),
      ],
    },
  },
  {
    name: 'AuditPart',
    folder: 'audit-part',
    description: "Reads one group's staged part back and lists the group's range of the input anew, for Validate",
    packaging: 'zip',
    // Holds one row group and the part's paths; single-threaded, so more memory than ~1,769 MB (one vCPU) would not speed it up.
    memoryMb: 2048,
    timeoutSeconds: wholeRun,
    // Its range of the input listed; the part read; the audit written beside the group's stats.
    access: {
      list: ['input:', output(stagedPartsPrefix(anyRun))],
      read: [runs.stagedParts],
      writeTagged: [output(`${partAuditsPrefix(anyRun)}*`)],
    },
  },
  {
    name: 'FinishReduce',
    folder: 'finish-reduce',
    description: "Sums the reduce groups' stats into the run's result and writes its failure records",
    packaging: 'zip',
    // Streams: holds the part keys and one stats object at a time.
    memoryMb: 512,
    timeoutSeconds: wholeRun,
    // The groups' stats and failure records, the failed batches' records; deletes staged parts and stats an
    // earlier attempt wrote beyond this one's.
    access: {
      list: [output(runsPrefix)],
      read: [output(`${reducePrefix(anyRun)}*`)],
      write: [runs.failures],
      delete: [
        runs.stagedParts,
        output(`${reduceStatsPrefix(anyRun)}*`),
        output(`${partMomentsPrefix(anyRun)}*`),
        output(`${rowSamplesPrefix(anyRun)}*`),
      ],
    },
  },
  {
    name: 'Validate',
    folder: 'validate',
    description: "Sums the groups' audits, proves the run's accounting against its rows and failures, writes its report",
    packaging: 'zip',
    memoryMb: 2048,
    timeoutSeconds: wholeRun,
    // The input listed anew, the run's staged parts and failures, an incremental run's manifest, and the dataset's
    // parts publishing would keep.
    access: {
      list: ['input:', output(featuresPrefix), output(runsPrefix)],
      read: [output(`${featuresPrefix}*`), runs.all, output(`${manifestsPrefix}*`)],
      write: [runs.report],
    },
  },
  {
    name: 'Publish',
    folder: 'publish',
    description: "Copies a validated run's staged parts into features/, then removes or rewrites what they replace",
    packaging: 'zip',
    // Publishing copies server-side; it rewrites an older part a row group at a time.
    memoryMb: 2048,
    timeoutSeconds: wholeRun,
    // The validation report (what was audited), the staged parts (copy sources) and failure records; the dataset's
    // parts, to find, rewrite and remove those the run replaces (CopyObject: GetObject on the source, PutObject on
    // the target).
    access: {
      list: [output(featuresPrefix), output(runsPrefix)],
      read: [
        runs.report,
        runs.stagedParts,
        runs.failures,
        output(`${featuresPrefix}*`),
        output(`${rewritesPrefix(anyRun)}*`),
        output(publishRecordKey(anyRun)),
        output(publishJournalKey),
      ],
      write: [output(`${featuresPrefix}*`), output(publishRecordKey(anyRun)), output(publishJournalKey)],
      writeTagged: [output(`${rewritesPrefix(anyRun)}*`)],
      delete: [output(`${featuresPrefix}*`), output(publishJournalKey)],
      lease: true,
    },
  },
  {
    name: 'Pca',
    folder: 'pca',
    description: "Fits PCA from the moments of a run's parts (or takes a saved model) and plans the reduction, a part per child",
    packaging: 'zip',
    // Two width² float64 matrices (13 MB each at 1280) and the eigendecomposition's; the time of the
    // eigendecomposition shrinks with more CPU, which Lambda gives with memory.
    memoryMb: 3008,
    timeoutSeconds: wholeRun,
    // The run's part moments; features/ listed, footers read (the extractor, rewritten_at), the partition's footers;
    // saved models (a model to apply must be under pca/); the model and the plan written.
    access: {
      list: [output(featuresPrefix), output(pcaPartitionsPrefix), output(runsPrefix)],
      read: [
        output(`${featuresPrefix}*`),
        output(`${pcaPartitionsPrefix}*`),
        output(`${pcaModelsPrefix}*`),
        output(`${partMomentsPrefix(anyRun)}*`),
      ],
      write: [output(`${pcaModelsPrefix}*`)],
      writeTagged: [output(pcaPlanKey(anyRun))],
      lease: true,
    },
  },
  {
    name: 'PcaPart',
    folder: 'pca-part',
    description: "Reduces one features part by the run's PCA model into a reduced part staged under runs/<runId>/pca/parts/",
    packaging: 'zip',
    // Holds one row group of the source and the reduced part (k/1280 of its vectors).
    memoryMb: 2048,
    timeoutSeconds: wholeRun,
    // Its features part (listed for its version, then read) and the model; the staged reduced part.
    access: {
      list: [output(featuresPrefix)],
      read: [output(`${featuresPrefix}*`), output(`${pcaModelsPrefix}*`)],
      writeTagged: [output(`${pcaStagedPartsPrefix(anyRun)}*`)],
    },
  },
  {
    name: 'PublishPca',
    folder: 'publish-pca',
    description: "Copies a run's staged reduced parts into the model's partition of features-pca/, under the output's lease",
    packaging: 'zip',
    // Copies server-side; reduces again inline only a part a publish changed after PcaPart read it.
    memoryMb: 2048,
    timeoutSeconds: wholeRun,
    // The plan, the model, the staged reduced parts (copy sources and their footers); features/ listed (and a changed
    // part read); the partition written and pruned (CopyObject: GetObject on the source, PutObject on the target).
    access: {
      list: [output(featuresPrefix), output(pcaPartitionsPrefix), output(runsPrefix)],
      read: [
        output(pcaPlanKey(anyRun)),
        output(`${pcaStagedPartsPrefix(anyRun)}*`),
        output(`${featuresPrefix}*`),
        output(`${pcaModelsPrefix}*`),
      ],
      write: [output(`${pcaPartitionsPrefix}*`)],
      delete: [output(`${pcaPartitionsPrefix}*`)],
      lease: true,
    },
  },
  {
    name: 'UpdateIndex',
    folder: 'update-index',
    description: "Brings the dataset's nearest-neighbour index (LanceDB, index/) in line with features/ after a publish",
    // LanceDB is a native library (Rust): it cannot go in the arm64 zip and its layer; the image carries its
    // linux binary beside sharp's and ONNX Runtime's.
    packaging: 'container',
    // Rows are added a row group at a time; building the ANN index (from 10,000 rows) holds its graph and the
    // vectors: about 217,000 fit in 3,008 MB (annBuildMiB, ann-build-limits.ts); a first build larger than its memory,
    // or longer than its vCPUs give in the invocation's time left (annBuildCpuSeconds), is refused.
    memoryMb: 3008,
    timeoutSeconds: wholeRun,
    // LanceDB spills an IVF index build's shuffle to /tmp, about 1.3 KB a vector (vector-index.ts): Lambda's most,
    // 10 GB, holds some 7 million. Unused ephemeral storage costs nothing; what is used, little.
    ephemeralStorageMb: 10_240,
    // The dataset's parts (listed, footers and vectors read) and an interrupted publish's journal (found, not
    // finished: the index step never writes the dataset); the LanceDB files and the manifest under index/, which an
    // update adds, rewrites and prunes (optimize() removes superseded versions).
    access: {
      list: [output(featuresPrefix), output(indexPrefix)],
      read: [output(`${featuresPrefix}*`), output(`${indexPrefix}*`), output(publishJournalKey)],
      write: [output(`${indexPrefix}*`)],
      delete: [output(`${indexPrefix}*`)],
      lease: true,
    },
  },
  {
    name: 'Report',
    folder: 'report',
    description: "Renders a run's report.html: counts, failures, PCA plots, neighbours and thumbnails",
    // The image: sharp makes the page's thumbnails (a zip on arm64 has no libvips).
    packaging: 'container',
    memoryMb: 1024,
    timeoutSeconds: 300,
    // The validation report, failures and staged parts of the run (there whether it was published or not), a sample
    // of its reduced points, the model; the images it shows as thumbnails.
    access: {
      list: [output(runsPrefix), output(pcaPartitionsPrefix)],
      read: ['input:*', runs.all, output(`${pcaPartitionsPrefix}*`), output(`${pcaModelsPrefix}*`)],
      write: [runs.reportHtml],
    },
  },
] as const satisfies readonly Step[];

export type StepName = (typeof steps)[number]['name'];

/** The ASL placeholder of a step's function ARN. */
export type FunctionArnPlaceholder = `${StepName}FunctionArn`;

export function functionArnPlaceholder(step: Pick<Step, 'name'>): string {
  return `${step.name}FunctionArn`;
}

export function stepNamed(name: StepName): (typeof steps)[number] {
  return steps.find((step) => step.name === name)!;
}

/** The step whose function a Task state's Resource (`${<Name>FunctionArn}`, unfilled) invokes, if any. */
export function stepOfResource(resource: string): (typeof steps)[number] | undefined {
  return steps.find((step) => resource === `\${${functionArnPlaceholder(step)}}`);
}

/**
 * The deployable functions that are not state machine steps: the upload trigger, invoked by SQS
 * (infra/upload-trigger.ts). Every folder of functions/ but shared/ is a step or one of these.
 */
export const eventFunctionFolders = ['trigger'] as const;

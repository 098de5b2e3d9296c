/**
 * The deployment's settings: each from CDK context (`-c key=value` or cdk.json), else its environment variable,
 * else the default below. Validated once, with the offending key named, before any construct is built.
 */
import { z } from 'zod';
import { defaultEngine, defaultResize, engineNames, resizeModes } from '../functions/shared/config.ts';
import { pcaDefaultSubstitution } from '../functions/shared/pca/pca-setting.ts';
import { separationProblem } from '../functions/shared/storage/locations.ts';
import { normalizePrefix } from '../functions/shared/storage/storage.ts';
import { type StepName, steps } from '../statemachine/steps.ts';

/** Each step's memory: context `<step>MemoryMb` (extractMemoryMb...), environment `FEATURIZE_<STEP>_MEMORY_MB`. */
export type MemorySettingName = `${Uncapitalize<StepName>}MemoryMb`;

export function memorySettingName(step: { name: StepName }): MemorySettingName {
  return `${step.name[0]!.toLowerCase()}${step.name.slice(1)}MemoryMb` as MemorySettingName;
}

const memorySources = Object.fromEntries(
  steps.map((step) => [
    memorySettingName(step),
    { env: `FEATURIZE_${step.folder.toUpperCase().replaceAll('-', '_')}_MEMORY_MB`, default: step.memoryMb },
  ]),
) as Record<MemorySettingName, { env: string; default: number }>;

/** Where each setting comes from and what it defaults to: the README's table is this one. */
export const settingSources = {
  stackName: { env: 'FEATURIZE_STACK_NAME', default: 'Featurize' },
  /** An existing bucket to use for input and output; unset: the stack creates one. */
  bucketName: { env: 'FEATURIZE_BUCKET', default: undefined },
  /** The KMS key an existing bucket encrypts with (SSE-KMS): every role reading or writing it may use the key. */
  bucketKmsKeyArn: { env: 'FEATURIZE_BUCKET_KMS_KEY_ARN', default: undefined },
  inputPrefix: { env: 'FEATURIZE_INPUT_PREFIX', default: 'images/' },
  outputPrefix: { env: 'FEATURIZE_OUTPUT_PREFIX', default: 'datasets/mobilenet-v2/' },
  /**
   * More output prefixes the roles may write, comma-separated: a run (`featurize start --out-prefix`) may write
   * to outputPrefix or to one of these, exactly; CheckRun and `start` refuse any other.
   */
  extraOutputPrefixes: { env: 'FEATURIZE_EXTRA_OUTPUT_PREFIXES', default: '' },
  /**
   * Not 500: a batch's extract timeout is twice a cold batch (infra/extract-sizing.ts), 2 × (10 s + 500 × 40 ms)
   * = 60 s at the default msPerImage, and with the Retry lists' attempts and longest waits a batch that keeps timing
   * out could run 4 × 60 + 89 = 329 s, over the EXPRESS child's 300 s (the synth refuses it). 500 holds only with
   * msPerImage ≤ 32 (the `onnx` extract path takes ~9 ms of CPU per Fruits-360 image; 40 keeps tfjs-wasm and
   * camera photos safe): a deployment running `onnx` on small images may set both. Bytes never fail a batch: the ItemBatcher closes one at
   * 256 KiB of input too (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itembatcher.html), which
   * holds 500 listed objects while keys stay under ~400 bytes (228 of S3's longest, 1,024-byte keys): long keys
   * only make batches smaller.
   */
  maxItemsPerBatch: { env: 'FEATURIZE_BATCH_SIZE', default: 250 },
  maxConcurrency: { env: 'FEATURIZE_MAX_CONCURRENCY', default: 100 },
  toleratedFailurePercentage: { env: 'FEATURIZE_TOLERATED_FAILURE_PERCENTAGE', default: 5 },
  /**
   * Per-image time (read, decode, infer) the extract timeout is sized from: ~40 ms tfjs-wasm, ~10 ms native TF,
   * ~11 ms ONNX Runtime per core for inference alone (npm run tune:onnx); 40 keeps room for large photos.
   */
  msPerImage: { env: 'FEATURIZE_MS_PER_IMAGE', default: 40 },
  /** ONNX Runtime by default (functions/shared/config.ts has the figures); tfjs runs tfjs-node in the image. */
  engine: { env: 'FEATURIZE_ENGINE', default: defaultEngine },
  resize: { env: 'FEATURIZE_RESIZE', default: defaultResize },
  /** The TF.js model folder the extract function loads, inside its image (build/model/ is baked in at /opt/model/). */
  modelDir: { env: 'FEATURIZE_IMAGE_MODEL_DIR', default: '/opt/model/tfjs' },
  /** The runs' default PCA (execution input overrides it): off, a variance share in (0, 1), or a component count. */
  pca: { env: 'FEATURIZE_PCA', default: 'off' },
  /**
   * Whether runs update the dataset's nearest-neighbour index (<output>/index/) after publishing, by default
   * (execution input `index` overrides it). Off: an index costs a LanceDB update per run, which only a
   * deployment that searches its vectors wants.
   */
  indexAfterPublish: { env: 'FEATURIZE_INDEX', default: false },
  /** Adds tfjs-node (native TensorFlow, x86_64 only) to the extract image, for the `tfjs` engine; off: it runs on wasm. */
  tfjsNode: { env: 'FEATURIZE_TFJS_NODE', default: false },
  /**
   * The extract function's CPU: x86_64, or arm64 (Graviton, its GB-second 20 % cheaper: infra/cost-estimate.ts).
   * sharp and ONNX Runtime ship linux-arm64 builds; tfjs-node does not. x86_64 until arm64 is measured.
   */
  extractArchitecture: { env: 'FEATURIZE_EXTRACT_ARCHITECTURE', default: 'x86_64' },
  stateMachineLogLevel: { env: 'FEATURIZE_STATE_MACHINE_LOG_LEVEL', default: 'ERROR' },
  alarmEmail: { env: 'FEATURIZE_ALARM_EMAIL', default: undefined },
  intermediateExpirationDays: { env: 'FEATURIZE_INTERMEDIATE_EXPIRATION_DAYS', default: 7 },
  uploadBatchWindowSeconds: { env: 'FEATURIZE_UPLOAD_BATCH_WINDOW_SECONDS', default: 60 },
  uploadBatchSize: { env: 'FEATURIZE_UPLOAD_BATCH_SIZE', default: 1000 },
  /**
   * Reserved concurrency for the extract function; unset: none. Opt-in: Lambda refuses a reservation that leaves
   * the account fewer than 100 unreserved executions, which new accounts (10 in all) cannot satisfy
   * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
   */
  extractReservedConcurrency: { env: 'FEATURIZE_EXTRACT_RESERVED_CONCURRENCY', default: undefined },
  ...memorySources,
} as const;

export type SettingName = keyof typeof settingSources;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const prefix = z.string().transform(normalizePrefix);
/** A context value (true, or the text of `-c key=true`) or an environment variable's text. */
const booleanSetting = z.union([z.boolean(), z.enum(['true', 'false']).transform((text) => text === 'true')]);

const schema = z
  .object({
    stackName: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,63}$/, 'a CloudFormation stack name'),
    bucketName: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name')
      .optional(),
    bucketKmsKeyArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/, 'a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>)')
      .optional(),
    inputPrefix: prefix.refine((p) => p !== '', 'must not be empty: the whole bucket would include the outputs'),
    outputPrefix: prefix,
    extraOutputPrefixes: z
      .union([z.string(), z.array(z.string())])
      .transform((value) => (Array.isArray(value) ? value : value.split(',')).map((text) => text.trim()).filter(Boolean))
      .pipe(
        z.array(
          prefix
            .refine((p) => p !== '', 'an output prefix must not be empty')
            // The definition carries them comma-separated (GrantedOutputPrefixes).
            .refine((p) => !p.includes(','), 'an output prefix must not hold a comma'),
        ),
      ),
    // Step Functions' ItemBatcher and Map limits.
    maxItemsPerBatch: int(1, 100_000),
    maxConcurrency: int(1, 10_000),
    // ToleratedFailurePercentagePath takes an integer (statemachine/contracts.ts).
    toleratedFailurePercentage: int(0, 100),
    msPerImage: z.coerce.number().positive().max(10_000),
    // The text of ${PcaDefault}: `null`, a share or a count (refused with the accepted forms named).
    pca: z.coerce.string().transform((text, context) => {
      try {
        return pcaDefaultSubstitution(text);
      } catch (error) {
        context.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
    // The extract image carries the TF.js model and its float ONNX export (infra/assets.ts), not the int8 file.
    engine: z
      .enum(engineNames)
      .refine((engine) => engine !== 'onnx-int8', 'onnx-int8 runs locally only: the extract image has no int8 model'),
    indexAfterPublish: booleanSetting,
    tfjsNode: booleanSetting,
    extractArchitecture: z.enum(['x86_64', 'arm64']),
    resize: z.enum(resizeModes),
    modelDir: z.string().regex(/^\/opt\/model\/[^/].*/, 'a folder under /opt/model/ (where build/model/ is baked in)'),
    stateMachineLogLevel: z.enum(['ALL', 'ERROR']),
    alarmEmail: z.email().optional(),
    intermediateExpirationDays: int(1, 3650),
    // SQS event source limits: a window of at most 5 minutes, at most 10,000 messages.
    uploadBatchWindowSeconds: int(0, 300),
    uploadBatchSize: int(1, 10_000),
    // Lambda's own floor; its ceiling is the account's concurrency minus the 100 it keeps unreserved.
    extractReservedConcurrency: int(1, 100_000).optional(),
    // Lambda's memory range; new accounts start with a reduced memory quota (3008 MB fits it).
    ...(Object.fromEntries(steps.map((step) => [memorySettingName(step), int(128, 10_240)])) as Record<
      MemorySettingName,
      ReturnType<typeof int>
    >),
  })
  .refine((s) => s.uploadBatchWindowSeconds > 0 || s.uploadBatchSize <= 10, {
    message: 'more than 10 messages per batch needs a batching window of at least 1 second (SQS event source)',
    path: ['uploadBatchSize'],
  })
  .refine((s) => !(s.extractArchitecture === 'arm64' && s.tfjsNode), {
    message: 'tfjs-node (tfjsNode) ships libtensorflow for x86_64 Linux only: use x86_64, or the onnx engine on arm64',
    path: ['extractArchitecture'],
  })
  .refine((s) => s.bucketKmsKeyArn === undefined || s.bucketName !== undefined, {
    message: 'only for an existing bucket (bucketName): the bucket the stack creates is encrypted with S3-managed keys',
    path: ['bucketKmsKeyArn'],
  })
  .refine((s) => separate(s.inputPrefix, s.outputPrefix), {
    message: 'inputPrefix and outputPrefix must not contain one another: outputs under the input prefix would trigger runs',
    path: ['outputPrefix'],
  })
  .refine((s) => s.extraOutputPrefixes.every((extra) => separate(s.inputPrefix, extra)), {
    message: 'no output prefix may contain the inputPrefix or lie inside it: outputs under the input prefix would trigger runs',
    path: ['extraOutputPrefixes'],
  })
  // Every output prefix the roles may write: the deployment's own first.
  .transform((s) => ({ ...s, outputPrefixes: [...new Set([s.outputPrefix, ...s.extraOutputPrefixes])] }));

function separate(inputPrefix: string, outputPrefix: string): boolean {
  return separationProblem({ bucket: 'b', prefix: inputPrefix }, { bucket: 'b', prefix: outputPrefix }) === undefined;
}

export type StackSettings = z.output<typeof schema>;

/** Settings from a context lookup (e.g. `(key) => app.node.tryGetContext(key)`) and the environment. */
export function stackSettings(context: (key: string) => unknown, env: NodeJS.ProcessEnv = process.env): StackSettings {
  const raw: Record<string, unknown> = {};
  for (const [name, source] of Object.entries(settingSources)) {
    const value = context(name) ?? env[source.env] ?? source.default;
    if (value !== undefined) raw[name] = value;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]) as SettingName;
      const source = settingSources[name];
      return `${name}${source ? ` (context or ${source.env})` : ''}: ${issue.message}`;
    });
    throw new Error(`invalid deployment settings:\n  ${problems.join('\n  ')}`);
  }
  return parsed.data;
}

/**
 * ONNX Runtime engine (CPU execution provider), running the ONNX export of the model directory's TF.js graph
 * model (`npm run build:onnx`), or its int8 form (`npm run build:onnx-int8`). Same input contract as the TF.js
 * engine: NHWC float32, normalised by the descriptor; the same `features` output.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { type OnnxRuntimeSettings, onnxInt8ModelPath, onnxModelPath, onnxRuntimeSettings } from '../config.ts';
import { ModelLoadError } from '../errors.ts';
import { logger } from '../observability.ts';
import { type FeatureEngine, warmUp } from './feature-engine.ts';
import { loadModelDescriptor, type ModelDescriptor, normalizePixels, splitVectors } from './model-descriptor.ts';
import { onnxExportMetadata } from './onnx-schema.ts';

export interface OnnxEngineOptions {
  /** The .onnx file; by default the one `npm run build:onnx` (or `build:onnx-int8`) writes for this model. */
  modelPath?: string;
  session?: OnnxRuntimeSettings;
  /** `float32`: the float export (the `onnx` engine); `int8`: the int8 export (`onnx-int8`). */
  precision?: OnnxPrecision;
}

export type OnnxPrecision = 'float32' | 'int8';

/** What each precision's vectors record in their model id after the source model's, and how its file is made. */
const precisions = {
  float32: { idTag: 'onnx', build: 'npm run build:onnx', variable: 'FEATURIZE_ONNX_MODEL', path: onnxModelPath },
  int8: { idTag: 'onnx-int8', build: 'npm run build:onnx-int8', variable: 'FEATURIZE_ONNX_INT8_MODEL', path: onnxInt8ModelPath },
} as const;

export async function createOnnxEngine(modelDir: string, options: OnnxEngineOptions = {}): Promise<FeatureEngine> {
  const source = await loadModelDescriptor(modelDir);
  const precision = options.precision ?? 'float32';
  const { idTag, build, variable, path } = precisions[precision];
  const modelPath = options.modelPath ?? path(source.name);
  const settings = options.session ?? onnxRuntimeSettings();
  const bytes = await readFile(modelPath).catch((error: NodeJS.ErrnoException) => {
    const hint = error.code === 'ENOENT' ? `: run \`${build}\` to export it, or set ${variable}` : '';
    throw new ModelLoadError(`cannot read the ONNX model ${modelPath}${hint} (${error.message})`);
  });
  const exported = onnxExportMetadata(bytes, modelPath);
  if (exported.source !== source.id) {
    throw new ModelLoadError(
      `${modelPath} was exported from ${exported.source}, not from the model in ${modelDir} (${source.id}): run \`${build}\``,
    );
  }
  if (exported.precision !== precision) {
    throw new ModelLoadError(
      `${modelPath} holds the ${exported.precision} export, this engine runs the ${precision} one: run \`${build}\``,
    );
  }
  // The vectors record both: the TF.js source model, and the exact exported file that ran (int8 vectors are
  // not float ones, so their id says so: a dataset refuses to mix them).
  const digest = createHash('sha256').update(bytes).digest('hex').slice(0, 12);
  const descriptor: ModelDescriptor = { ...source, id: `${source.id}/${idTag}@${digest}` };
  const session = await ort.InferenceSession.create(bytes, sessionOptions(settings)).catch((error: unknown) => {
    throw new ModelLoadError(`ONNX Runtime cannot load ${modelPath}: ${(error as Error).message}`);
  });
  const engine = new OnnxEngine(session, descriptor);
  await warmUp(engine, `the ONNX model ${modelPath}`);
  logger.info('model loaded', { engine: engine.id, model: descriptor.id, modelPath, session: settings });
  return engine;
}

function sessionOptions(settings: OnnxRuntimeSettings): ort.InferenceSession.SessionOptions {
  const allow_spinning = settings.spinning ? '1' : '0';
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: settings.intraOpThreads,
    interOpNumThreads: settings.interOpThreads,
    graphOptimizationLevel: settings.graphOptimization,
    executionMode: settings.executionMode,
    enableCpuMemArena: settings.memoryArena,
    // Session config entries (onnxruntime_session_options_config_keys.h), flattened to dotted keys by the binding.
    extra: { session: { intra_op: { allow_spinning }, inter_op: { allow_spinning } } },
  };
}

class OnnxEngine implements FeatureEngine {
  readonly id = 'onnxruntime/cpu';
  readonly descriptor: ModelDescriptor;
  private readonly session: ort.InferenceSession;
  /**
   * The input tensor's memory, kept from batch to batch rather than 4.8 MB (a mini-batch of 8) to allocate, zero
   * and collect each time; grown, never shrunk, so that a batch's last, smaller mini-batch takes a view of it and
   * the next full one allocates nothing either (fresh memory costs a page fault per 4 KiB: 12 µs each on this
   * Firecracker VM). ONNX Runtime reads it only while its run lasts; a call made while another's run is pending
   * gets a buffer of its own.
   */
  private input: Float32Array | undefined;
  private inputInUse = false;

  constructor(session: ort.InferenceSession, descriptor: ModelDescriptor) {
    this.session = session;
    this.descriptor = descriptor;
  }

  async extract(images: readonly Uint8Array[]): Promise<Float32Array[]> {
    if (images.length === 0) return [];
    const { inputNode, outputNode, inputSize, featureLength } = this.descriptor;
    const values = images.length * inputSize * inputSize * 3;
    const reuse = !this.inputInUse;
    if (reuse && (this.input?.length ?? 0) < values) this.input = new Float32Array(values);
    const buffer = reuse ? this.input!.subarray(0, values) : new Float32Array(values);
    const input = new ort.Tensor('float32', normalizePixels(images, this.descriptor, buffer), [images.length, inputSize, inputSize, 3]);
    this.inputInUse ||= reuse;
    let output: ort.Tensor | undefined;
    try {
      output = (await this.session.run({ [inputNode]: input }, [outputNode]))[outputNode];
    } finally {
      if (reuse) this.inputInUse = false;
    }
    if (output?.type !== 'float32') {
      throw new ModelLoadError(
        `output ${outputNode} has shape [${output?.dims}] (${output?.type}), expected [n, ${featureLength}] float32`,
      );
    }
    return splitVectors(output.data as Float32Array, images.length, this.descriptor, String(output.dims));
  }

  dispose(): void {
    this.session.release().catch((error: unknown) => logger.warn('ONNX session release failed', { error }));
  }
}

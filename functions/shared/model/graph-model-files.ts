/**
 * A TF.js graph model's files on disk: `model.json` (topology and weights manifest) and its weight shards.
 * Read here once for both consumers: the TF.js engine, and the ONNX export, which needs the weights by name.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import { ModelLoadError } from '../errors.ts';

interface GraphModelManifest {
  modelTopology: object;
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  signature?: object;
  userDefinedMetadata?: Record<string, unknown>;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

async function readManifest(modelDir: string): Promise<GraphModelManifest> {
  return JSON.parse(await readFile(join(modelDir, 'model.json'), 'utf8')) as GraphModelManifest;
}

function weightFiles(manifest: GraphModelManifest): string[] {
  return manifest.weightsManifest.flatMap((group) => group.paths);
}

/** The model's own files, relative to its folder: model.json and exactly the weight shards it names. */
export async function graphModelFileNames(modelDir: string): Promise<string[]> {
  return ['model.json', ...weightFiles(await readManifest(modelDir))];
}

/** The graph model's files, as tfjs' IO handler contract wants them (no tfjs-node file:// needed). */
export async function readGraphModelArtifacts(modelDir: string): Promise<tf.io.ModelArtifacts> {
  const manifest = await readManifest(modelDir);
  const shards: Uint8Array[] = [];
  for (const path of weightFiles(manifest)) shards.push(await readFile(join(modelDir, path)));
  return {
    modelTopology: manifest.modelTopology,
    ...(manifest.format ? { format: manifest.format } : {}),
    ...(manifest.generatedBy ? { generatedBy: manifest.generatedBy } : {}),
    ...(manifest.convertedBy ? { convertedBy: manifest.convertedBy } : {}),
    ...(manifest.signature ? { signature: manifest.signature } : {}),
    weightSpecs: manifest.weightsManifest.flatMap((group) => group.weights),
    weightData: concatenate(shards),
  };
}

export interface Weight {
  shape: number[];
  values: Float32Array | Int32Array;
}

/**
 * The weights by name, as typed arrays over the artifacts' buffer (no copy). Only plain float32 and int32
 * weights: a quantized manifest (uint8/uint16/float16 entries) is refused rather than dequantized here.
 */
export function decodeWeights(artifacts: tf.io.ModelArtifacts): Map<string, Weight> {
  const buffer = artifacts.weightData;
  if (!(buffer instanceof ArrayBuffer)) throw new ModelLoadError('the graph model has no single weight buffer');
  const weights = new Map<string, Weight>();
  let offset = 0;
  for (const spec of artifacts.weightSpecs ?? []) {
    if (spec.quantization) throw new ModelLoadError(`weight ${spec.name} is quantized (${spec.quantization.dtype}): not supported`);
    const size = spec.shape.reduce((a, b) => a * b, 1);
    let values: Float32Array | Int32Array;
    if (spec.dtype === 'float32') values = new Float32Array(buffer, offset, size);
    else if (spec.dtype === 'int32') values = new Int32Array(buffer, offset, size);
    else throw new ModelLoadError(`weight ${spec.name} has dtype ${spec.dtype}: not supported`);
    weights.set(spec.name, { shape: spec.shape, values });
    offset += values.byteLength;
  }
  if (offset !== buffer.byteLength) {
    throw new ModelLoadError(`the weights manifest describes ${offset} bytes, the shards hold ${buffer.byteLength}`);
  }
  return weights;
}

function concatenate(chunks: Uint8Array[]): ArrayBuffer {
  const total = chunks.reduce((sum, c) => sum + c.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out.buffer;
}

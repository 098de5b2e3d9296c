import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGraphModelArtifacts } from '../../functions/shared/model/graph-model-files.ts';
import { loadModelDescriptor } from '../../functions/shared/model/model-descriptor.ts';
import { decodeModel, encodeModel, type ModelProto, sourceModelKey } from '../../functions/shared/model/onnx-schema.ts';
import { exportOnnx, verifyOnnxExport } from '../../tools/onnx-export/export-onnx.ts';
import { tfjsGraphToOnnx } from '../../tools/onnx-export/tfjs-graph-to-onnx.ts';
import { modelDir, referenceCases } from '../support/shared-data.ts';

/** The export made by the global setup for this test run. */
const exported = process.env.FEATURIZE_ONNX_MODEL!;
let scratch: string;
let model: ModelProto;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'onnx-export-'));
  model = decodeModel(await readFile(exported));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe('ONNX export of the TF.js graph model', () => {
  it('writes the same bytes on every export', async () => {
    const again = join(scratch, 'again.onnx');
    await exportOnnx(modelDir, again, { verify: false });
    expect((await readFile(again)).equals(await readFile(exported))).toBe(true);
  });

  it('keeps the NHWC input contract and exposes features and probabilities per image, with ONNX opset 13 ops only', async () => {
    expect(model.ir_version).toBe(7);
    expect(model.opset_import).toEqual([{ domain: '', version: 13 }]);
    const shapes = (values: ModelProto['graph']['input']) =>
      values.map((v) => [v.name, v.type.tensor_type.shape.dim.map((d) => ('dim_param' in d ? d.dim_param : d.dim_value))]);
    expect(shapes(model.graph.input)).toEqual([['input', ['n', 224, 224, 3]]]);
    expect(shapes(model.graph.output)).toEqual([
      ['features', ['n', 1280]],
      ['probabilities', ['n', 1001]],
    ]);
    const ops = Map.groupBy(model.graph.node, (node) => node.op_type);
    expect([...ops.keys()].sort()).toEqual(['Add', 'AveragePool', 'Clip', 'Conv', 'Reshape', 'Softmax', 'Transpose']);
    // 36 Conv2D + 17 depthwise, each with its BiasAdd folded in; one Transpose, at the input.
    expect(ops.get('Conv')).toHaveLength(53);
    expect(ops.get('Conv')!.every((conv) => conv.input.length === 3)).toBe(true);
    expect(ops.get('Transpose')!.map((t) => t.input)).toEqual([['input']]);
    const { id } = await loadModelDescriptor(modelDir);
    expect(model.metadata_props).toEqual([{ key: sourceModelKey, value: id }]);
  });

  it('classifies the reference images as the oracle does, through the probabilities output', async () => {
    const session = await ort.InferenceSession.create(exported);
    try {
      for (const reference of await referenceCases()) {
        const input = Float32Array.from(reference.pixels, (p) => (p - 128) / 128);
        const { probabilities } = await session.run({ input: new ort.Tensor('float32', input, [1, 224, 224, 3]) });
        const p = probabilities!.data as Float32Array;
        // Output index 0 is "background": ImageNet class k is index k + 1.
        const top5 = [...p.keys()].sort((a, b) => p[b]! - p[a]!).slice(0, 5);
        expect(
          top5.map((i) => i - 1),
          reference.id,
        ).toEqual(reference.top5.map((t) => t.imagenet));
        reference.top5.forEach((t) => {
          expect(Math.abs(p[t.imagenet + 1]! - t.p)).toBeLessThanOrEqual(1e-4);
        });
      }
    } finally {
      await session.release();
    }
  });

  it('checks an export against TF.js, and refuses one that computes something else', async () => {
    expect(await verifyOnnxExport(modelDir, exported)).toBeLessThanOrEqual(1e-4);
    // The same graph with ReLU6 clipping at 5: a plausible mapping mistake.
    const broken = structuredClone(model);
    broken.graph.initializer.find((t) => t.name === 'relu6/max')!.raw_data = new Uint8Array(new Float32Array([5]).buffer);
    const path = join(scratch, 'broken.onnx');
    await writeFile(path, encodeModel(broken));
    await expect(verifyOnnxExport(modelDir, path)).rejects.toMatchObject({
      name: 'ModelExportError',
      message: expect.stringMatching(/differs from the TF.js model by/),
    });
  });

  it('names the node of an op it has no mapping for', async () => {
    const artifacts = await readGraphModelArtifacts(modelDir);
    const topology = artifacts.modelTopology as { node: { name: string; op: string }[] };
    topology.node.find((node) => node.name === 'op0_conv_2d/act')!.op = 'Elu';
    const descriptor = await loadModelDescriptor(modelDir);
    expect(() => tfjsGraphToOnnx(artifacts, descriptor)).toThrow(/op Elu \(node op0_conv_2d\/act\) has no ONNX mapping/);
  });
});

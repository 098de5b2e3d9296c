/**
 * A TF.js graph model (NHWC, TensorFlow op names) to an ONNX ModelProto (NCHW, ONNX ops), for the convolution
 * networks this project runs. The input keeps the TF.js contract, NHWC [n, h, w, c] float32, and one Transpose
 * turns it to NCHW; weights are laid out for NCHW at export, so no other transposes run per image.
 *
 * TensorFlow op           ONNX (opset 13)
 * Placeholder             graph input (NHWC) + Transpose to NCHW
 * Conv2D                  Conv, weights HWIO -> OIHW, TF padding as explicit pads
 * DepthwiseConv2dNative   Conv with group = input channels, weights HWCM -> (C*M)1HW
 * BiasAdd                 folded into the Conv before it (its B input)
 * Relu6                   Clip(0, 6)
 * AddV2                   Add
 * AvgPool                 AveragePool, padding excluded from the mean as in TF
 * Reshape                 Reshape (int64 shape), after a Transpose back to NHWC unless the map is 1x1
 * Softmax                 Softmax over the channel axis
 * Const                   initializers, materialised in the layout their consumer needs
 *
 * Anything else (another op, NCHW data_format, broadcasting...) is a ModelExportError naming the node.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { ModelExportError } from '../../functions/shared/errors.ts';
import { decodeWeights, type Weight } from '../../functions/shared/model/graph-model-files.ts';
import type { ModelDescriptor } from '../../functions/shared/model/model-descriptor.ts';
import {
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  sourceModelKey,
  type TensorProto,
  tensorDataType,
  type ValueInfoProto,
} from '../../functions/shared/model/onnx-schema.ts';

/**
 * Opset 13: the lowest where every op used has its current definition (Softmax over one axis as TF does it,
 * since 13; Clip bounds as inputs, since 11; Conv and AveragePool unchanged for float since 11), so the file
 * loads in any ONNX Runtime since 1.7, onnxruntime-web, OpenVINO and TensorRT alike. IR version 7 goes with it.
 */
export const onnxOpset = 13;
export const irVersion = 7;

/** The batch dimension, symbolic in the ONNX file. */
export const batch = -1;
const batchDimName = 'n';

interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
}

interface TfAttr {
  s?: string;
  i?: string;
  list?: { i?: string[] };
  shape?: { dim?: { size: string }[] };
  type?: string;
}

/** An ONNX value and what the exporter knows of it: its TF (NHWC) shape and its layout in the ONNX graph. */
interface Value {
  name: string;
  /** In TF order (NHWC for 4-D), `batch` for the symbolic batch dimension. */
  shape: number[];
  /** `nchw`: a 4-D map stored channels-first; `tf`: stored as TF would. */
  layout: 'nchw' | 'tf';
}

export function tfjsGraphToOnnx(artifacts: tf.io.ModelArtifacts, descriptor: ModelDescriptor): ModelProto {
  const tfNodes = (artifacts.modelTopology as { node?: TfNode[] } | undefined)?.node ?? [];
  const byName = new Map(tfNodes.map((node) => [node.name, node]));
  const consumers = new Map<string, TfNode[]>();
  for (const node of tfNodes) {
    for (const input of node.input ?? []) consumers.set(tensorName(input), [...(consumers.get(tensorName(input)) ?? []), node]);
  }
  const weights = decodeWeights(artifacts);
  const sinks = tfNodes.filter((node) => node.op !== 'Const' && !consumers.has(node.name)).map((node) => node.name);
  const outputs = [descriptor.outputNode, ...sinks.filter((name) => name !== descriptor.outputNode)];

  const nodes: NodeProto[] = [];
  const initializers = new Map<string, TensorProto>();
  const inputs: ValueInfoProto[] = [];
  const values = new Map<string, Value>();

  const emit = (op_type: string, name: string, input: string[], output: string, attribute: AttributeProto[] = []) => {
    nodes.push({ name, op_type, input, output: [output], attribute });
  };
  const initializer = (name: string, dims: number[], data_type: number, raw: ArrayBufferView) => {
    initializers.set(name, { name, dims, data_type, raw_data: littleEndianBytes(raw) });
    return name;
  };
  const constant = (node: TfNode, index: number): Weight => {
    const name = tensorName(node.input?.[index] ?? '');
    const weight = byName.get(name)?.op === 'Const' ? weights.get(name) : undefined;
    if (!weight) throw new ModelExportError(`${node.op} ${node.name}: input ${index} (${name}) is not a constant weight`);
    return weight;
  };
  const input = (node: TfNode, index: number, layout?: Value['layout']): Value => {
    const value = values.get(tensorName(node.input?.[index] ?? ''));
    if (!value) throw new ModelExportError(`${node.op} ${node.name}: input ${index} is not a computed tensor`);
    if (layout && value.layout !== layout) {
      throw new ModelExportError(`${node.op} ${node.name}: input ${index} must be a 4-D NHWC feature map`);
    }
    return value;
  };
  /** A value in TF's own layout: NCHW maps go back to NHWC, except 1x1 maps whose memory order is the same. */
  const inTfLayout = (value: Value): Value => {
    if (value.layout === 'tf' || (value.shape[1] === 1 && value.shape[2] === 1)) return { ...value, layout: 'tf' };
    const name = `${value.name}/nhwc`;
    emit('Transpose', name, [value.name], name, [ints('perm', [0, 2, 3, 1])]);
    return { ...value, name, layout: 'tf' };
  };

  const convert: Record<string, (node: TfNode) => Value> = {
    Placeholder: (node) => {
      const shape = (attr(node, 'shape').shape?.dim ?? []).map((d) => Number(d.size));
      if (attr(node, 'dtype').type !== 'DT_FLOAT' || shape.length !== 4 || shape.slice(1).some((d) => d <= 0)) {
        throw new ModelExportError(`input ${node.name} must be float32 [n, h, w, c] with fixed h, w, c; it is [${shape}]`);
      }
      inputs.push(valueInfo(node.name, [batch, ...shape.slice(1)]));
      const name = `${node.name}/nchw`;
      emit('Transpose', name, [node.name], name, [ints('perm', [0, 3, 1, 2])]);
      return { name, shape: [batch, ...shape.slice(1)], layout: 'nchw' };
    },
    Conv2D: (node) => convolution(node, false),
    DepthwiseConv2dNative: (node) => convolution(node, true),
    Relu6: (node) => {
      const x = input(node, 0);
      const min = initializer('relu6/min', [], tensorDataType.float, new Float32Array([0]));
      const max = initializer('relu6/max', [], tensorDataType.float, new Float32Array([6]));
      emit('Clip', node.name, [x.name, min, max], node.name);
      return { ...x, name: node.name };
    },
    AddV2: (node) => {
      const [a, b] = [input(node, 0), input(node, 1)];
      if (a.layout !== b.layout || a.shape.join() !== b.shape.join()) {
        throw new ModelExportError(`AddV2 ${node.name}: broadcasting [${a.shape}] + [${b.shape}] is not supported`);
      }
      emit('Add', node.name, [a.name, b.name], node.name);
      return { ...a, name: node.name };
    },
    AvgPool: (node) => {
      requireNhwc(node);
      const x = input(node, 0, 'nchw');
      const [kh, kw] = spatial(node, 'ksize');
      const [sh, sw] = spatial(node, 'strides');
      const [h, w, pads] = windowOutput(node, x, [kh, kw], [sh, sw], [1, 1]);
      emit('AveragePool', node.name, [x.name], node.name, [
        ints('kernel_shape', [kh, kw]),
        ints('strides', [sh, sw]),
        ints('pads', pads),
        int('count_include_pad', 0),
      ]);
      return { name: node.name, shape: [batch, h, w, x.shape[3]!], layout: 'nchw' };
    },
    Reshape: (node) => {
      const x = inTfLayout(input(node, 0));
      const target = Array.from(constant(node, 1).values);
      const perImage = (dims: number[]) => dims.slice(1).reduce((a, b) => a * b, 1);
      if (target[0] !== -1 || target.slice(1).some((d) => d <= 0) || perImage(target) !== perImage(x.shape)) {
        throw new ModelExportError(`Reshape ${node.name}: only [-1, ...] reshapes that keep each image's values are supported`);
      }
      const shape = initializer(`${node.name}/shape`, [target.length], tensorDataType.int64, BigInt64Array.from(target, BigInt));
      emit('Reshape', node.name, [x.name, shape], node.name);
      return { name: node.name, shape: [batch, ...target.slice(1)], layout: 'tf' };
    },
    Softmax: (node) => {
      const x = input(node, 0);
      // TF normalises over the last axis: the channels, which an NCHW map holds on axis 1.
      emit('Softmax', node.name, [x.name], node.name, [int('axis', x.layout === 'nchw' ? 1 : -1)]);
      return { ...x, name: node.name };
    },
  };

  function convolution(node: TfNode, depthwise: boolean): Value {
    requireNhwc(node);
    const x = input(node, 0, 'nchw');
    const filter = constant(node, 1);
    const [kh, kw, cin, cout] = filter.shape as [number, number, number, number];
    if (cin !== x.shape[3]) throw new ModelExportError(`${node.op} ${node.name}: filter expects ${cin} channels, input has ${x.shape[3]}`);
    const strides = spatial(node, 'strides');
    const dilations = spatial(node, 'dilations');
    const [h, w, pads] = windowOutput(node, x, [kh, kw], strides, dilations);
    const channels = depthwise ? cin * cout : cout;
    const weightsName = initializer(
      `${node.name}/weights`,
      depthwise ? [channels, 1, kh, kw] : [channels, cin, kh, kw],
      tensorDataType.float,
      hwioToOihw(filter.values, depthwise ? [kh, kw, 1, channels] : filter.shape),
    );
    // The BiasAdd that follows becomes Conv's bias, and its name the Conv's output.
    const [next, ...others] = consumers.get(node.name) ?? [];
    if (next?.op !== 'BiasAdd' || others.length > 0) {
      throw new ModelExportError(`${node.op} ${node.name}: expected exactly one consumer, a BiasAdd`);
    }
    requireNhwc(next);
    const bias = constant(next, 1);
    if (bias.shape.join() !== String(channels)) throw new ModelExportError(`BiasAdd ${next.name}: bias shape [${bias.shape}]`);
    const biasName = initializer(`${next.name}/bias`, [channels], tensorDataType.float, bias.values);
    emit('Conv', node.name, [x.name, weightsName, biasName], next.name, [
      ints('kernel_shape', [kh, kw]),
      ints('strides', strides),
      ints('dilations', dilations),
      ints('pads', pads),
      int('group', depthwise ? cin : 1),
    ]);
    const output: Value = { name: next.name, shape: [batch, h, w, channels], layout: 'nchw' };
    values.set(next.name, output);
    return output;
  }

  for (const node of topologicalOrder(outputs, byName)) {
    if (node.op === 'Const' || values.has(node.name)) continue;
    const mapping = convert[node.op];
    if (!mapping) throw new ModelExportError(`op ${node.op} (node ${node.name}) has no ONNX mapping in this exporter`);
    values.set(node.name, mapping(node));
  }

  const graphOutputs = outputs.map((name) => {
    const value = values.get(name)!;
    if (value.layout === 'nchw' && value.shape.length === 4) {
      throw new ModelExportError(`output ${name} is a feature map, not a vector per image: not supported`);
    }
    return valueInfo(name, value.shape);
  });
  return {
    ir_version: irVersion,
    opset_import: [{ domain: '', version: onnxOpset }],
    producer_name: 'fruits-featurize',
    doc_string: `${descriptor.id}, exported from the TF.js graph model`,
    graph: {
      name: descriptor.name,
      node: nodes,
      initializer: [...initializers.values()],
      input: inputs,
      output: graphOutputs,
    },
    metadata_props: [{ key: sourceModelKey, value: descriptor.id }],
  };
}

/** Nodes the outputs depend on, each after its inputs (ONNX requires a topologically sorted graph). */
function topologicalOrder(outputs: readonly string[], byName: Map<string, TfNode>): TfNode[] {
  const order: TfNode[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new ModelExportError(`the graph has a cycle through ${name}`);
    const node = byName.get(name);
    if (!node) throw new ModelExportError(`node ${name} is referenced but not defined`);
    state.set(name, 'visiting');
    for (const input of node.input ?? []) visit(tensorName(input));
    state.set(name, 'done');
    order.push(node);
  };
  outputs.forEach(visit);
  return order;
}

/** `node` or `node:0` name the node's only output; other outputs and control inputs do not occur in these graphs. */
function tensorName(input: string): string {
  if (input.startsWith('^') || /:[1-9]\d*$/.test(input)) {
    throw new ModelExportError(`input ${input}: control dependencies and secondary outputs are not supported`);
  }
  return input.replace(/:0$/, '');
}

function attr(node: TfNode, name: string): TfAttr {
  const value = node.attr?.[name];
  if (!value) throw new ModelExportError(`${node.op} ${node.name}: attribute ${name} is missing`);
  return value;
}

function stringAttr(node: TfNode, name: string): string {
  return Buffer.from(attr(node, name).s ?? '', 'base64').toString('utf8');
}

function requireNhwc(node: TfNode): void {
  const format = node.attr?.data_format ? stringAttr(node, 'data_format') : 'NHWC';
  if (format !== 'NHWC') throw new ModelExportError(`${node.op} ${node.name}: data_format ${format} is not supported`);
}

/** The [h, w] part of an NHWC list attribute (strides, dilations, ksize); dilations default to 1. */
function spatial(node: TfNode, name: string): [number, number] {
  const absent = name === 'dilations' && !node.attr?.dilations;
  const list = absent ? [1, 1, 1, 1] : (attr(node, name).list?.i ?? []).map(Number);
  if (list.length !== 4 || list[0] !== 1 || list[3] !== 1) {
    throw new ModelExportError(`${node.op} ${node.name}: ${name} [${list}] must be [1, h, w, 1]`);
  }
  return [list[1]!, list[2]!];
}

/**
 * Output height and width of a sliding window and ONNX pads [top, left, bottom, right] reproducing TF's padding:
 * SAME pads to ceil(in / stride) outputs with the odd pixel at the end (bottom/right), VALID pads nothing,
 * EXPLICIT takes TF's explicit_paddings. Computed here rather than left to auto_pad, which ONNX deprecates.
 */
function windowOutput(
  node: TfNode,
  x: Value,
  kernel: [number, number],
  strides: [number, number],
  dilations: [number, number],
): [number, number, number[]] {
  const padding = stringAttr(node, 'padding');
  const explicit = (node.attr?.explicit_paddings?.list?.i ?? []).map(Number);
  const begin: number[] = [];
  const end: number[] = [];
  const out = [0, 1].map((axis) => {
    const size = x.shape[axis + 1]!;
    const span = (kernel[axis]! - 1) * dilations[axis]! + 1;
    const stride = strides[axis]!;
    let [before, after] = [0, 0];
    if (padding === 'SAME') {
      [before, after] = samePadding(size, span, stride);
    } else if (padding === 'EXPLICIT') {
      [before, after] = [explicit[2 * (axis + 1)] ?? 0, explicit[2 * (axis + 1) + 1] ?? 0];
    } else if (padding !== 'VALID') {
      throw new ModelExportError(`${node.op} ${node.name}: padding ${padding} is not supported`);
    }
    begin.push(before);
    end.push(after);
    return Math.floor((size + before + after - span) / stride) + 1;
  });
  return [out[0]!, out[1]!, [...begin, ...end]];
}

/** TF's (and TFLite's) SAME padding of one axis, [before, after]: ceil(size / stride) outputs, the odd pixel at the end. */
export function samePadding(size: number, span: number, stride: number): [number, number] {
  const total = Math.max((Math.ceil(size / stride) - 1) * stride + span - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * A filter [kh, kw, in, out] (HWIO) to ONNX's [out, in, kh, kw] (OIHW). A depthwise filter [kh, kw, c, m] is
 * the same memory as HWIO [kh, kw, 1, c * m], whose OIHW form is the grouped Conv's [c * m, 1, kh, kw].
 */
function hwioToOihw(values: Float32Array | Int32Array, shape: readonly number[]): Float32Array {
  const [kh = 0, kw = 0, cin = 0, cout = 0] = shape;
  const out = new Float32Array(values.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + y) * kw + x] = values[((y * kw + x) * cin + i) * cout + o]!;
  return out;
}

export function ints(name: string, values: number[]): AttributeProto {
  return { name, type: 'INTS', ints: values };
}

export function int(name: string, value: number): AttributeProto {
  return { name, type: 'INT', i: value };
}

export function valueInfo(name: string, shape: number[]): ValueInfoProto {
  const dim = shape.map((d) => (d === batch ? { dim_param: batchDimName } : { dim_value: d }));
  return { name, type: { tensor_type: { elem_type: tensorDataType.float, shape: { dim } } } };
}

/** raw_data is little-endian by specification; so are the platforms Node and ONNX Runtime run on. */
export function littleEndianBytes(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

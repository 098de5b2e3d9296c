/**
 * A quantized TensorFlow Lite model (uint8 activations, as Google's quantization-aware MobileNetV2 ships) to an
 * ONNX graph in QDQ form: each tensor TFLite stores quantized becomes QuantizeLinear / DequantizeLinear with
 * TFLite's own scale and zero point, around float Conv, Add and AveragePool nodes. ONNX Runtime fuses each
 * DequantizeLinear → Conv → QuantizeLinear into one QLinearConv computed in 8-bit integers (Add into QLinearAdd);
 * any other ONNX runtime reads the same file as float arithmetic on the quantized values.
 *
 * The contract is the float export's (tfjs-graph-to-onnx.ts): input NHWC float32 normalised as the descriptor
 * says, which TFLite's input quantization (scale 1/128, zero point 128 for this model) turns back into the pixel
 * bytes exactly; outputs `features`, the pooled activations dequantized and averaged in float32, and
 * `probabilities`, the classifier's.
 *
 * TFLite op            ONNX (opset 13)
 * (uint8 input)        graph input (NHWC float32), Transpose to NCHW, QuantizeLinear
 * CONV_2D              DQ(x), DQ(int8 filter, per tensor or per output channel), DQ(int32 bias) → Conv → Q
 * DEPTHWISE_CONV_2D    the same, group = input channels
 * fused RELU6 / RELU   Clip(0, 6) / Relu before the Q (ONNX Runtime drops it when the Q's range already clamps)
 * ADD                  DQ(a), DQ(b) → Add → Q
 * AVERAGE_POOL_2D      DQ(x) → AveragePool, in float: the `features`; a Q of it feeds the classifier
 * RESHAPE              Reshape [-1, ...] of a 1×1 map, on the quantized bytes
 * SOFTMAX              DQ → Softmax, in float: the `probabilities` output
 *
 * uint8 filters become int8 (q − 128, zero point − 128: the same real values) because ONNX Runtime's x86 kernels
 * multiply uint8 activations by int8 weights (VNNI's vpdpbusd); uint8 × uint8 takes a slower path.
 */
import { ModelExportError } from '../../functions/shared/errors.ts';
import type { ModelDescriptor } from '../../functions/shared/model/model-descriptor.ts';
import type { OnnxPrecision } from '../../functions/shared/model/onnx-engine.ts';
import {
  type AttributeProto,
  type ModelProto,
  type NodeProto,
  precisionKey,
  quantizedFromKey,
  sourceModelKey,
  type TensorProto,
  tensorDataType,
} from '../../functions/shared/model/onnx-schema.ts';
import { batch, int, ints, irVersion, littleEndianBytes, onnxOpset, samePadding, valueInfo } from './tfjs-graph-to-onnx.ts';
import { type TfliteModel, type TfliteOperator, type TfliteTensor, tfliteActivation, tfliteOp, tfliteType } from './tflite-model.ts';

/** The classifier's output, as the float model (and so its float export) names it. */
export const probabilitiesOutput = 'probabilities';

export interface Int8Source {
  /** The float model this graph stands in for: its descriptor gives the contract and the source-model id. */
  descriptor: ModelDescriptor;
  /** Which TFLite file the weights and quantization came from (`name@sha`), recorded in the export. */
  tfliteId: string;
}

export function tfliteToOnnxInt8(model: TfliteModel, { descriptor, tfliteId }: Int8Source): ModelProto {
  const nodes: NodeProto[] = [];
  const initializers = new Map<string, TensorProto>();
  /** The ONNX value holding each TFLite tensor's quantized bytes (NCHW for 4-D maps). */
  const quantized = new Map<number, string>();
  const pooled: { name: string; channels: number }[] = [];
  let probabilities: { name: string; shape: number[] } | undefined;

  const emit = (op_type: string, name: string, input: string[], attribute: AttributeProto[] = []) => {
    nodes.push({ name, op_type, input, output: [name], attribute });
    return name;
  };
  const initializer = (name: string, dims: number[], data_type: number, raw: ArrayBufferView) => {
    initializers.set(name, { name, dims, data_type, raw_data: littleEndianBytes(raw) });
    return name;
  };
  const tensor = (index: number | undefined, what: string): TfliteTensor => {
    const found = index === undefined ? undefined : model.tensors[index];
    if (!found) throw new ModelExportError(`${what}: tensor ${index} does not exist`);
    return found;
  };
  const quantizationOf = (t: TfliteTensor) => {
    if (!t.quantization) throw new ModelExportError(`tensor ${t.name} is not quantized`);
    return t.quantization;
  };
  /** Scale and zero point initializers of an activation tensor (uint8, per tensor). */
  const activationParams = (t: TfliteTensor): [string, string] => {
    const { scale, zeroPoint } = quantizationOf(t);
    if (t.type !== tfliteType.uint8 || scale.length !== 1) {
      throw new ModelExportError(`activation ${t.name}: only uint8 per-tensor quantization is supported`);
    }
    return [
      initializer(`${t.name}/scale`, [], tensorDataType.float, new Float32Array(scale)),
      initializer(`${t.name}/zero_point`, [], tensorDataType.uint8, Uint8Array.from(zeroPoint)),
    ];
  };
  /** QuantizeLinear of a float value into TFLite tensor `t`'s quantization: its bytes, as TFLite holds them. */
  const quantize = (value: string, t: TfliteTensor) => {
    quantized.set(t.index, emit('QuantizeLinear', `${t.name}/q`, [value, ...activationParams(t)]));
  };
  const bytesOf = (t: TfliteTensor, consumer: string) => {
    const bytes = quantized.get(t.index);
    if (bytes === undefined) throw new ModelExportError(`${consumer}: input ${t.name} is not computed by an earlier operator`);
    return bytes;
  };
  /** A DequantizeLinear of its own for each consumer, the form ONNX Runtime's QDQ fusion matches. */
  const dequantize = (t: TfliteTensor, consumer: string) =>
    emit('DequantizeLinear', `${t.name}/dq/${consumer}`, [bytesOf(t, consumer), ...activationParams(t)]);
  const activation = (op: TfliteOperator, value: string, name: string) => {
    if (op.options.activation === tfliteActivation.NONE) return value;
    if (op.options.activation === tfliteActivation.RELU) return emit('Relu', `${name}/relu`, [value]);
    if (op.options.activation === tfliteActivation.RELU6) {
      const min = initializer('relu6/min', [], tensorDataType.float, new Float32Array([0]));
      const max = initializer('relu6/max', [], tensorDataType.float, new Float32Array([6]));
      return emit('Clip', `${name}/relu6`, [value, min, max]);
    }
    throw new ModelExportError(`${name}: fused activation ${op.options.activation} is not supported`);
  };
  /** ONNX pads [top, left, bottom, right] of a TFLite window over an NHWC input. */
  const pads = (op: TfliteOperator, x: TfliteTensor, kernel: [number, number]) => {
    const { padding, strideH, strideW, dilationH, dilationW } = op.options;
    if (padding === 'VALID') return [0, 0, 0, 0];
    const [top, bottom] = samePadding(x.shape[1]!, (kernel[0] - 1) * dilationH + 1, strideH);
    const [left, right] = samePadding(x.shape[2]!, (kernel[1] - 1) * dilationW + 1, strideW);
    return [top, left, bottom, right];
  };

  const convolution = (op: TfliteOperator, depthwise: boolean) => {
    const [x, filter, bias] = [0, 1, 2].map((i) => tensor(op.inputs[i], `convolution ${op.outputs[0]}`)) as [
      TfliteTensor,
      TfliteTensor,
      TfliteTensor,
    ];
    const y = tensor(op.outputs[0], 'convolution');
    // TFLite filters: CONV_2D [out, kh, kw, in] (OHWI); DEPTHWISE_CONV_2D [1, kh, kw, channels × multiplier].
    const [o, kh, kw, i] = filter.shape as [number, number, number, number];
    const channels = depthwise ? i : o;
    if (!depthwise && i !== x.shape[3])
      throw new ModelExportError(`${y.name}: the filter expects ${i} channels, the input has ${x.shape[3]}`);
    const w = int8Filter(filter);
    const perChannel = w.scale.length > 1;
    if (perChannel && w.scale.length !== channels)
      throw new ModelExportError(`${filter.name}: ${w.scale.length} scales for ${channels} channels`);
    const axis = perChannel ? [int('axis', 0)] : [];
    // [1, kh, kw, c] read as OHWI gives [1, c, kh, kw]: the same memory as the grouped Conv's [c, 1, kh, kw].
    const weights = emit(
      'DequantizeLinear',
      `${filter.name}/dq`,
      [
        initializer(
          filter.name,
          depthwise ? [channels, 1, kh, kw] : [o, i, kh, kw],
          tensorDataType.int8,
          ohwiToOihw(w.values, [o, kh, kw, i]),
        ),
        initializer(`${filter.name}/scale`, perChannel ? [channels] : [], tensorDataType.float, new Float32Array(w.scale)),
        initializer(`${filter.name}/zero_point`, perChannel ? [channels] : [], tensorDataType.int8, Int8Array.from(w.zeroPoint)),
      ],
      axis,
    );
    const biasScale = quantizationOf(bias).scale;
    if (bias.type !== tfliteType.int32 || !bias.data || bias.data.length !== channels * 4) {
      throw new ModelExportError(`${bias.name}: expected ${channels} int32 biases`);
    }
    // int32 dequantizes with no zero point (ONNX requires 0 there); TFLite's bias scale is input × filter scale.
    const biases = emit(
      'DequantizeLinear',
      `${bias.name}/dq`,
      [
        initializer(bias.name, [channels], tensorDataType.int32, new Int32Array(Uint8Array.from(bias.data).buffer)),
        initializer(`${bias.name}/scale`, biasScale.length > 1 ? [channels] : [], tensorDataType.float, new Float32Array(biasScale)),
      ],
      biasScale.length > 1 ? [int('axis', 0)] : [],
    );
    const conv = emit(
      'Conv',
      `${y.name}/conv`,
      [dequantize(x, y.name), weights, biases],
      [
        ints('kernel_shape', [kh, kw]),
        ints('strides', [op.options.strideH, op.options.strideW]),
        ints('dilations', [op.options.dilationH, op.options.dilationW]),
        ints('pads', pads(op, x, [kh, kw])),
        int('group', depthwise ? x.shape[3]! : 1),
      ],
    );
    quantize(activation(op, conv, y.name), y);
  };

  const convert: Record<number, (op: TfliteOperator) => void> = {
    [tfliteOp.CONV_2D]: (op) => convolution(op, false),
    [tfliteOp.DEPTHWISE_CONV_2D]: (op) => convolution(op, true),
    [tfliteOp.ADD]: (op) => {
      const [a, b] = [0, 1].map((i) => tensor(op.inputs[i], 'ADD')) as [TfliteTensor, TfliteTensor];
      const y = tensor(op.outputs[0], 'ADD');
      if (a.shape.join() !== b.shape.join())
        throw new ModelExportError(`${y.name}: broadcasting [${a.shape}] + [${b.shape}] is not supported`);
      quantize(activation(op, emit('Add', `${y.name}/add`, [dequantize(a, y.name), dequantize(b, y.name)]), y.name), y);
    },
    [tfliteOp.AVERAGE_POOL_2D]: (op) => {
      const [x, y] = [tensor(op.inputs[0], 'AVERAGE_POOL_2D'), tensor(op.outputs[0], 'AVERAGE_POOL_2D')];
      const { filterH, filterW, strideH, strideW } = op.options;
      const pool = emit(
        'AveragePool',
        `${y.name}/pool`,
        [dequantize(x, y.name)],
        [
          ints('kernel_shape', [filterH, filterW]),
          ints('strides', [strideH, strideW]),
          ints('pads', pads(op, x, [filterH, filterW])),
          int('count_include_pad', 0),
        ],
      );
      const value = activation(op, pool, y.name);
      if (y.shape[1] === 1 && y.shape[2] === 1) pooled.push({ name: value, channels: y.shape[3]! });
      quantize(value, y);
    },
    [tfliteOp.RESHAPE]: (op) => {
      const [x, y] = [tensor(op.inputs[0], 'RESHAPE'), tensor(op.outputs[0], 'RESHAPE')];
      const [xq, yq] = [quantizationOf(x), quantizationOf(y)];
      if (
        x.shape[1] !== 1 ||
        x.shape[2] !== 1 ||
        x.shape.length !== 4 ||
        String(xq.scale) !== String(yq.scale) ||
        String(xq.zeroPoint) !== String(yq.zeroPoint)
      ) {
        throw new ModelExportError(`${y.name}: only reshapes of 1×1 maps that keep the quantization are supported`);
      }
      const target = [-1, ...y.shape.slice(1)];
      const shape = initializer(`${y.name}/shape`, [target.length], tensorDataType.int64, BigInt64Array.from(target, BigInt));
      quantized.set(y.index, emit('Reshape', `${y.name}/q`, [bytesOf(x, y.name), shape]));
    },
    [tfliteOp.SOFTMAX]: (op) => {
      const x = tensor(op.inputs[0], 'SOFTMAX');
      if (x.shape.length !== 2) throw new ModelExportError(`${x.name}: the classifier's output must be [n, classes]`);
      const softmax = emit('Softmax', probabilitiesOutput, [dequantize(x, probabilitiesOutput)], [int('axis', -1)]);
      probabilities = { name: softmax, shape: [batch, x.shape[1]!] };
    },
  };

  const [inputIndex, ...otherInputs] = model.inputs;
  const input = tensor(inputIndex, 'the model input');
  const size = descriptor.inputSize;
  if (otherInputs.length > 0 || input.shape.join() !== [1, size, size, 3].join()) {
    throw new ModelExportError(`the TFLite model must have one input [1, ${size}, ${size}, 3]; it has [${input.shape}]`);
  }
  // The float input the engine feeds is (p − mean) / scale: TFLite's input quantization must map it back to p.
  const { scale: [inputScale] = [], zeroPoint: [inputZero] = [] } = quantizationOf(input);
  const { mean, scale } = descriptor.normalization;
  if (Math.abs(inputScale! * scale - 1) > 1e-6 || inputZero !== mean) {
    throw new ModelExportError(
      `the TFLite input is quantized as (q − ${inputZero}) × ${inputScale}, the descriptor normalizes as (p − ${mean}) / ${scale}`,
    );
  }
  emit('Transpose', `${descriptor.inputNode}/nchw`, [descriptor.inputNode], [ints('perm', [0, 3, 1, 2])]);
  quantize(`${descriptor.inputNode}/nchw`, input);

  for (const op of model.operators) {
    const conversion = convert[op.code];
    if (!conversion) throw new ModelExportError(`TFLite builtin operator ${op.code} has no ONNX mapping in the int8 exporter`);
    conversion(op);
  }

  const [features, ...otherPools] = pooled;
  if (!features || otherPools.length > 0 || features.channels !== descriptor.featureLength) {
    throw new ModelExportError(`the features must be the one global average pool, ${descriptor.featureLength} wide`);
  }
  const featureShape = initializer('features/shape', [2], tensorDataType.int64, BigInt64Array.from([-1n, BigInt(features.channels)]));
  nodes.push({
    name: descriptor.outputNode,
    op_type: 'Reshape',
    input: [features.name, featureShape],
    output: [descriptor.outputNode],
    attribute: [],
  });
  const outputs = [valueInfo(descriptor.outputNode, [batch, features.channels])];
  if (probabilities) outputs.push(valueInfo(probabilities.name, probabilities.shape));
  return {
    ir_version: irVersion,
    opset_import: [{ domain: '', version: onnxOpset }],
    producer_name: 'fruits-featurize',
    doc_string: `${descriptor.id} in int8 (QDQ), from the quantization-aware TFLite model ${tfliteId}`,
    graph: {
      name: `${descriptor.name}-int8`,
      node: nodes,
      initializer: [...initializers.values()],
      input: [valueInfo(descriptor.inputNode, [batch, size, size, 3])],
      output: outputs,
    },
    metadata_props: [
      { key: sourceModelKey, value: descriptor.id },
      { key: precisionKey, value: 'int8' satisfies OnnxPrecision },
      { key: quantizedFromKey, value: tfliteId },
    ],
  };
}

/** A filter's values and quantization as int8: uint8 q with zero point z is int8 q − 128 with z − 128. */
function int8Filter(filter: TfliteTensor): { values: Int8Array; scale: number[]; zeroPoint: number[] } {
  const { scale, zeroPoint } = filter.quantization ?? { scale: [], zeroPoint: [] };
  if (!filter.data || scale.length === 0) throw new ModelExportError(`filter ${filter.name} is not a quantized constant`);
  if (filter.type === tfliteType.int8) {
    return { values: new Int8Array(filter.data.buffer, filter.data.byteOffset, filter.data.length), scale, zeroPoint };
  }
  if (filter.type !== tfliteType.uint8) throw new ModelExportError(`filter ${filter.name}: type ${filter.type} is not uint8 or int8`);
  return { values: Int8Array.from(filter.data, (q) => q - 128), scale, zeroPoint: zeroPoint.map((z) => z - 128) };
}

/** A filter [out, kh, kw, in] (OHWI, TFLite's) to ONNX's [out, in, kh, kw] (OIHW). */
function ohwiToOihw(values: Int8Array, [o, kh, kw, i]: [number, number, number, number]): Int8Array {
  const out = new Int8Array(values.length);
  for (let a = 0; a < o; a++)
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++)
        for (let c = 0; c < i; c++) out[((a * i + c) * kh + y) * kw + x] = values[((a * kh + y) * kw + x) * i + c]!;
  return out;
}

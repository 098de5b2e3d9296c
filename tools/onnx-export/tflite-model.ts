/**
 * Reads the part of a TensorFlow Lite model (a flatbuffer of TFLite's schema.fbs, file identifier TFL3) that the
 * int8 export needs: the first subgraph's tensors (shape, type, quantization, constant data) and its operators
 * with their builtin options. The `flatbuffers` library reads the format (offsets, vtables, vectors, strings);
 * the table and field numbers below are TFLite's schema's, as onnx-schema.ts transcribes ONNX's.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { ByteBuffer } from 'flatbuffers';
import { ModelExportError } from '../../functions/shared/errors.ts';

/** TFLite `TensorType` values met in quantized convolution networks. */
export const tfliteType = { float32: 0, int32: 2, uint8: 3, int64: 4, int8: 9 } as const;

/** TFLite `BuiltinOperator` codes the int8 export converts. */
export const tfliteOp = { ADD: 0, AVERAGE_POOL_2D: 1, CONV_2D: 3, DEPTHWISE_CONV_2D: 4, RESHAPE: 22, SOFTMAX: 25 } as const;

/** TFLite `ActivationFunctionType`. */
export const tfliteActivation = { NONE: 0, RELU: 1, RELU6: 3 } as const;

export interface TfliteQuantization {
  /** One value per tensor, or one per slice along quantizedDimension (per-channel weights). */
  scale: number[];
  zeroPoint: number[];
  quantizedDimension: number;
}

export interface TfliteTensor {
  index: number;
  name: string;
  shape: number[];
  type: number;
  quantization?: TfliteQuantization;
  /** The constant's bytes (little-endian), for weights and biases; undefined for activations. */
  data?: Uint8Array;
}

/** The union of the builtin options of the operators converted: absent fields take the schema's defaults. */
export interface TfliteOptions {
  padding: 'SAME' | 'VALID';
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  filterH: number;
  filterW: number;
  depthMultiplier: number;
  activation: number;
}

export interface TfliteOperator {
  /** BuiltinOperator code (see tfliteOp). */
  code: number;
  inputs: number[];
  outputs: number[];
  options: TfliteOptions;
}

export interface TfliteModel {
  tensors: TfliteTensor[];
  operators: TfliteOperator[];
  inputs: number[];
  outputs: number[];
}

/** BuiltinOptions union tags (schema.fbs) whose fields are read. */
const optionsTag = { Conv2DOptions: 1, DepthwiseConv2DOptions: 2, Pool2DOptions: 5, AddOptions: 11 } as const;

export function readTfliteModel(bytes: Uint8Array): TfliteModel {
  const bb = new ByteBuffer(bytes);
  if (bytes.length < 8 || !bb.__has_identifier('TFL3')) throw new ModelExportError('not a TensorFlow Lite model (no TFL3 identifier)');
  /** Field `index` of the table at `table`: its absolute position, or 0 when absent (vtable slot 4 + 2 × index). */
  const field = (table: number, index: number) => {
    const offset = bb.__offset(table, 4 + 2 * index);
    return offset === 0 ? 0 : table + offset;
  };
  const scalar = (table: number, index: number, read: (at: number) => number, fallback: number) => {
    const at = field(table, index);
    return at === 0 ? fallback : read(at);
  };
  const vector = (table: number, index: number, width: number): number[] => {
    const at = field(table, index);
    if (at === 0) return [];
    const start = bb.__vector(at);
    return Array.from({ length: bb.__vector_len(at) }, (_, i) => start + i * width);
  };
  const tables = (table: number, index: number) => vector(table, index, 4).map((at) => bb.__indirect(at));
  const int32s = (table: number, index: number) => vector(table, index, 4).map((at) => bb.readInt32(at));
  const subTable = (table: number, index: number) => {
    const at = field(table, index);
    return at === 0 ? undefined : bb.__indirect(at);
  };

  const model = bb.readUint32(bb.position()) + bb.position();
  // Model: 1 operator_codes, 2 subgraphs, 4 buffers. OperatorCode: 0 deprecated_builtin_code (int8), 3 builtin_code
  // (int32): readers take the larger, as TFLite's own GetBuiltinCode does. Buffer: 0 data.
  const codes = tables(model, 1).map((code) =>
    Math.max(
      scalar(code, 0, (at) => bb.readInt8(at), 0),
      scalar(code, 3, (at) => bb.readInt32(at), 0),
    ),
  );
  const buffers = tables(model, 4).map((buffer) => {
    const at = field(buffer, 0);
    return at === 0 ? undefined : bytes.subarray(bb.__vector(at), bb.__vector(at) + bb.__vector_len(at));
  });
  const [subgraph, ...others] = tables(model, 2);
  if (subgraph === undefined || others.length > 0) throw new ModelExportError('the TensorFlow Lite model must have exactly one subgraph');

  // SubGraph: 0 tensors, 1 inputs, 2 outputs, 3 operators.
  // Tensor: 0 shape, 1 type, 2 buffer, 3 name, 4 quantization. QuantizationParameters: 2 scale, 3 zero_point,
  // 6 quantized_dimension.
  const tensors = tables(subgraph, 0).map((tensor, index): TfliteTensor => {
    const quantization = subTable(tensor, 4);
    const name = field(tensor, 3);
    const scale = quantization === undefined ? [] : vector(quantization, 2, 4).map((at) => bb.readFloat32(at));
    const data = buffers[scalar(tensor, 2, (at) => bb.readUint32(at), 0)];
    return {
      index,
      name: name === 0 ? `tensor${index}` : (bb.__string(name) as string),
      shape: int32s(tensor, 0),
      type: scalar(tensor, 1, (at) => bb.readInt8(at), 0),
      ...(quantization !== undefined && scale.length > 0
        ? {
            quantization: {
              scale,
              zeroPoint: vector(quantization, 3, 8).map((at) => Number(bb.readInt64(at))),
              quantizedDimension: scalar(quantization, 6, (at) => bb.readInt32(at), 0),
            },
          }
        : {}),
      ...(data !== undefined && data.length > 0 ? { data } : {}),
    };
  });

  // Operator: 0 opcode_index, 1 inputs, 2 outputs, 3 builtin_options_type, 4 builtin_options.
  const operators = tables(subgraph, 3).map((operator): TfliteOperator => {
    const code = codes[scalar(operator, 0, (at) => bb.readUint32(at), 0)];
    if (code === undefined) throw new ModelExportError('an operator names an operator code the model does not have');
    const tag = scalar(operator, 3, (at) => bb.readUint8(at), 0);
    return { code, inputs: int32s(operator, 1), outputs: int32s(operator, 2), options: readOptions(tag, subTable(operator, 4)) };
  });

  /**
   * Conv2DOptions: 0 padding, 1 stride_w, 2 stride_h, 3 fused_activation_function, 4 dilation_w, 5 dilation_h.
   * DepthwiseConv2DOptions: 0 padding, 1 stride_w, 2 stride_h, 3 depth_multiplier, 4 fused_activation_function,
   * 5 dilation_w, 6 dilation_h. Pool2DOptions: 0 padding, 1 stride_w, 2 stride_h, 3 filter_width, 4 filter_height,
   * 5 fused_activation_function. Padding: SAME 0, VALID 1.
   */
  function readOptions(tag: number, table: number | undefined): TfliteOptions {
    const int = (index: number, fallback: number) =>
      table === undefined ? fallback : scalar(table, index, (at) => bb.readInt32(at), fallback);
    const byte = (index: number) => (table === undefined ? 0 : scalar(table, index, (at) => bb.readInt8(at), 0));
    const options: TfliteOptions = {
      padding: byte(0) === 1 ? 'VALID' : 'SAME',
      strideW: int(1, 1),
      strideH: int(2, 1),
      dilationW: 1,
      dilationH: 1,
      filterW: 1,
      filterH: 1,
      depthMultiplier: 1,
      activation: tfliteActivation.NONE,
    };
    if (tag === optionsTag.Conv2DOptions) return { ...options, activation: byte(3), dilationW: int(4, 1), dilationH: int(5, 1) };
    if (tag === optionsTag.DepthwiseConv2DOptions) {
      return { ...options, depthMultiplier: int(3, 1), activation: byte(4), dilationW: int(5, 1), dilationH: int(6, 1) };
    }
    if (tag === optionsTag.Pool2DOptions) return { ...options, filterW: int(3, 1), filterH: int(4, 1), activation: byte(5) };
    // AddOptions: 0 fused_activation_function. Other options (Reshape, Softmax) are not needed.
    return tag === optionsTag.AddOptions ? { ...options, activation: byte(0) } : options;
  }

  return { tensors, operators, inputs: int32s(subgraph, 1), outputs: int32s(subgraph, 2) };
}

/** A TFLite file and its id, `file name@` + the first 12 hex digits of its SHA-256 (as model ids are made). */
export async function readTflite(path: string): Promise<{ bytes: Uint8Array; id: string }> {
  const bytes = await readFile(path).catch((error: Error) => {
    throw new ModelExportError(`cannot read the TFLite model ${path} (set FEATURIZE_TFLITE_MODEL): ${error.message}`);
  });
  return { bytes, id: `${basename(path)}@${createHash('sha256').update(bytes).digest('hex').slice(0, 12)}` };
}

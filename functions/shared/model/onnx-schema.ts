/**
 * The part of ONNX's protobuf schema that the export writes and the ONNX engine reads back, written for this
 * project from the specification (onnx/onnx.proto, proto2): same message names, field names and numbers, so
 * the bytes are a valid ModelProto for any ONNX reader. Messages and fields we never write are left out;
 * a decoder skips unknown fields, so files from other producers still read.
 */
import protobuf from 'protobufjs';
import { ModelLoadError } from '../errors.ts';

const onnxProtoSubset = `
syntax = "proto2";
package onnx;

message ModelProto {
  optional int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  optional string producer_name = 2;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
}

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}

message StringStringEntryProto {
  optional string key = 1;
  optional string value = 2;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  repeated AttributeProto attribute = 5;
}

message AttributeProto {
  enum AttributeType {
    UNDEFINED = 0;
    INT = 2;
    INTS = 7;
  }
  optional string name = 1;
  optional AttributeType type = 20;
  optional int64 i = 3;
  repeated int64 ints = 8;
}

message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  optional string name = 8;
  optional bytes raw_data = 9;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
}

message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
  }
  repeated Dimension dim = 1;
}
`;

/** ModelProto.metadata_props key of our exports: the source model's id, so that a stale export is refused. */
export const sourceModelKey = 'featurize.source_model';
/** metadata_props key of the int8 export (value `int8`), so that neither engine runs the other's file. */
export const precisionKey = 'featurize.precision';
/** metadata_props key of the int8 export: the TFLite file (`name@sha`) its weights and quantization came from. */
export const quantizedFromKey = 'featurize.quantized_from';

/** `TensorProto.DataType` values used here. */
export const tensorDataType = { float: 1, uint8: 2, int8: 3, int32: 6, int64: 7 } as const;

export interface ModelProto {
  ir_version: number;
  opset_import: { domain: string; version: number }[];
  producer_name: string;
  doc_string: string;
  graph: GraphProto;
  metadata_props: { key: string; value: string }[];
}

export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
}

export interface NodeProto {
  name: string;
  op_type: string;
  input: string[];
  output: string[];
  attribute: AttributeProto[];
}

export type AttributeProto = { name: string } & ({ type: 'INT'; i: number } | { type: 'INTS'; ints: number[] });

export interface TensorProto {
  name: string;
  dims: number[];
  data_type: number;
  /** Fixed-width little-endian values, as the specification requires for raw_data. */
  raw_data: Uint8Array;
}

export interface ValueInfoProto {
  name: string;
  type: { tensor_type: { elem_type: number; shape: { dim: ({ dim_value: number } | { dim_param: string })[] } } };
}

const root = protobuf.parse(onnxProtoSubset, { keepCase: true }).root;
const modelType = root.lookupType('onnx.ModelProto');

export function encodeModel(model: ModelProto): Uint8Array {
  return modelType.encode(modelType.fromObject(model)).finish();
}

/** Reads a ModelProto; bytes fields stay views over `bytes`, so this is cheap even for large weights. */
export function decodeModel(bytes: Uint8Array): ModelProto {
  return modelType.toObject(modelType.decode(bytes), { longs: Number, enums: String, arrays: true }) as ModelProto;
}

/** The source model id and the precision an export recorded in its metadata (see tfjsGraphToOnnx, tfliteToOnnxInt8). */
export function onnxExportMetadata(bytes: Uint8Array, modelPath: string): { source: string; precision: string; quantizedFrom?: string } {
  try {
    const metadata = decodeModel(bytes).metadata_props;
    const value = (key: string) => metadata.find((entry) => entry.key === key)?.value;
    const quantizedFrom = value(quantizedFromKey);
    return {
      source: value(sourceModelKey) ?? 'an unknown model',
      precision: value(precisionKey) ?? 'float32',
      ...(quantizedFrom !== undefined ? { quantizedFrom } : {}),
    };
  } catch (error) {
    throw new ModelLoadError(`${modelPath} is not an ONNX model: ${(error as Error).message}`);
  }
}

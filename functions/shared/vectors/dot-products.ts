/**
 * Dot products of every row of one matrix with every row of another (A · Bᵀ), by ONNX Runtime's Gemm: MLAS, its
 * SIMD and cache-blocked kernels, some 30 times the plain JavaScript loop it replaced (2,000 × 2,000 vectors of
 * 1,280 values: 0.1 s of one core instead of 3). Sums are float32, as the vectors are.
 *
 * ONNX Runtime is imported when first needed, so that what only normalizes vectors does not load it.
 */
import type * as ort from 'onnxruntime-node';
import { encodeModel, tensorDataType } from '../model/onnx-schema.ts';

let gemm: Promise<{ runtime: typeof ort; session: ort.InferenceSession }> | undefined;

/**
 * Starts loading ONNX Runtime and the product's session (0.2 s of one core), for a module that will need them: a
 * failure surfaces at the first product, not here.
 */
export function preloadDotProducts(): void {
  gemm ??= loadGemm();
  gemm.catch(() => {});
}

/** `a` (`aRows` × `dimension`) times the transpose of `b` (`bRows` × `dimension`): `aRows` × `bRows` products. */
export async function dotProducts(
  a: Float32Array,
  aRows: number,
  b: Float32Array,
  bRows: number,
  dimension: number,
): Promise<Float32Array> {
  gemm ??= loadGemm();
  const { runtime, session } = await gemm;
  const { products } = await session.run({
    a: new runtime.Tensor('float32', a, [aRows, dimension]),
    b: new runtime.Tensor('float32', b, [bRows, dimension]),
  });
  return products!.data as Float32Array;
}

async function loadGemm() {
  const runtime = await import('onnxruntime-node');
  const matrix = (name: string, rows: string) => ({
    name,
    type: { tensor_type: { elem_type: tensorDataType.float, shape: { dim: [{ dim_param: rows }, { dim_param: 'dimension' }] } } },
  });
  const model = encodeModel({
    ir_version: 7,
    opset_import: [{ domain: '', version: 13 }],
    producer_name: 'featurize',
    doc_string: 'a · bᵀ',
    graph: {
      name: 'dot_products',
      node: [
        { name: 'gemm', op_type: 'Gemm', input: ['a', 'b'], output: ['products'], attribute: [{ name: 'transB', type: 'INT', i: 1 }] },
      ],
      initializer: [],
      input: [matrix('a', 'a_rows'), matrix('b', 'b_rows')],
      output: [
        {
          name: 'products',
          type: { tensor_type: { elem_type: tensorDataType.float, shape: { dim: [{ dim_param: 'a_rows' }, { dim_param: 'b_rows' }] } } },
        },
      ],
    },
    metadata_props: [],
  });
  return { runtime, session: await runtime.InferenceSession.create(model, { executionProviders: ['cpu'] }) };
}

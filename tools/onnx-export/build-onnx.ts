#!/usr/bin/env node
/**
 * `npm run build:onnx`: exports the TF.js graph model of FEATURIZE_MODEL_DIR (default ../shared/models/…) to
 * the ONNX file the `onnx` engine loads (FEATURIZE_ONNX_MODEL, default build/models/<model name>.onnx), after
 * checking its features against TF.js.
 * `npm run build:onnx-int8` (argument `int8`): exports the quantized TFLite model (FEATURIZE_TFLITE_MODEL) to the
 * int8 file the `onnx-int8` engine loads (FEATURIZE_ONNX_INT8_MODEL, default build/models/<model name>.int8.onnx),
 * after checking its features against TF.js's.
 * Prints one line; a failure prints its reason and exits non-zero.
 */
import { relative } from 'node:path';
import { defaultModelDir, onnxInt8ModelPath, onnxModelPath, tfliteModelPath } from '../../functions/shared/config.ts';
import { loadModelDescriptor } from '../../functions/shared/model/model-descriptor.ts';
import { logger } from '../../functions/shared/observability.ts';
import { toolArgument } from '../tool-argument.ts';
import { exportOnnx, exportOnnxInt8 } from './export-onnx.ts';
import { onnxOpset } from './tfjs-graph-to-onnx.ts';

// The one line below is the report; engine logs only when asked for (POWERTOOLS_LOG_LEVEL).
if (!process.env.POWERTOOLS_LOG_LEVEL) logger.setLogLevel('WARN');
const int8 = toolArgument('tools/onnx-export/build-onnx.ts', 'int8') === 'int8';
try {
  const started = performance.now();
  const modelDir = defaultModelDir();
  const { name } = await loadModelDescriptor(modelDir);
  const result = int8
    ? await exportOnnxInt8(modelDir, tfliteModelPath(), onnxInt8ModelPath(name), { verify: true })
    : await exportOnnx(modelDir, onnxModelPath(name), { verify: true });
  const check = int8
    ? `features' cosine similarity to TF.js's at least ${result.minCosine?.toFixed(4)}`
    : `features within ${result.maxDifference?.toExponential(1)} of TF.js`;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    `${relative(process.cwd(), result.path) || result.path}: ${(result.bytes / 1e6).toFixed(1)} MB, ONNX opset ${onnxOpset}, ` +
      `from ${result.sourceModel}; ${check} (${seconds} s)\n`,
  );
} catch (error) {
  process.stderr.write(`build:onnx${int8 ? '-int8' : ''}: ${(error as Error).message}\n`);
  process.exitCode = 1;
}

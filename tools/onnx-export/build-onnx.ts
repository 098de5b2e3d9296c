#!/usr/bin/env node
/**
 * `npm run build:onnx`: exports the TF.js graph model of FEATURIZE_MODEL_DIR (default ../shared/models/…) to
 * the ONNX file the `onnx` engine loads (FEATURIZE_ONNX_MODEL, default build/models/<model name>.onnx), after
 * checking its features against TF.js. Prints one line; a failure prints its reason and exits non-zero.
 */
import { relative } from 'node:path';
import { defaultModelDir, onnxModelPath } from '../../functions/shared/config.ts';
import { loadModelDescriptor } from '../../functions/shared/model/model-descriptor.ts';
import { logger } from '../../functions/shared/observability.ts';
import { exportOnnx } from './export-onnx.ts';
import { onnxOpset } from './tfjs-graph-to-onnx.ts';

// The one line below is the report; engine logs only when asked for (POWERTOOLS_LOG_LEVEL).
if (!process.env.POWERTOOLS_LOG_LEVEL) logger.setLogLevel('WARN');
try {
  const started = performance.now();
  const modelDir = defaultModelDir();
  const target = onnxModelPath((await loadModelDescriptor(modelDir)).name);
  const result = await exportOnnx(modelDir, target, { verify: true });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    `${relative(process.cwd(), result.path) || result.path}: ${(result.bytes / 1e6).toFixed(1)} MB, ONNX opset ${onnxOpset}, ` +
      `from ${result.sourceModel}; features within ${result.maxDifference?.toExponential(1)} of TF.js (${seconds} s)\n`,
  );
} catch (error) {
  process.stderr.write(`build:onnx: ${(error as Error).message}\n`);
  process.exitCode = 1;
}

/**
 * Exports the test model to ONNX once per test run, float (`onnx` engine) and int8 (`onnx-int8`), into a
 * temporary folder that FEATURIZE_ONNX_MODEL and FEATURIZE_ONNX_INT8_MODEL point every test worker at: `npm test`
 * works on a clean clone, and the tests always run the exporters as they are now, never a stale build/ file.
 * Unverified here (it is quick that way): the reference oracle tests and test/unit/onnx-int8.test.ts check them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultModelDir, tfliteModelPath } from '../../functions/shared/config.ts';
import { loadModelDescriptor } from '../../functions/shared/model/model-descriptor.ts';
import { exportOnnx, exportOnnxInt8 } from '../../tools/onnx-export/export-onnx.ts';

export default async function exportTestOnnxModels(): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'featurize-onnx-'));
  const modelDir = defaultModelDir();
  const { name } = await loadModelDescriptor(modelDir);
  const [float, int8] = [join(dir, `${name}.onnx`), join(dir, `${name}.int8.onnx`)];
  await exportOnnx(modelDir, float, { verify: false });
  await exportOnnxInt8(modelDir, tfliteModelPath(), int8, { verify: false });
  // Workers start after global setup and inherit this environment.
  process.env.FEATURIZE_ONNX_MODEL = float;
  process.env.FEATURIZE_ONNX_INT8_MODEL = int8;
  return () => rm(dir, { recursive: true, force: true });
}

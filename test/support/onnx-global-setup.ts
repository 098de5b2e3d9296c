/**
 * Exports the test model to ONNX once per test run, into a temporary folder that FEATURIZE_ONNX_MODEL points
 * every test worker at: `npm test` works on a clean clone, and the tests always run the exporter as it is now,
 * never a stale build/ file. Unverified here (it is quick that way): the reference oracle tests check it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultModelDir } from '../../functions/shared/config.ts';
import { loadModelDescriptor } from '../../functions/shared/model/model-descriptor.ts';
import { exportOnnx } from '../../tools/onnx-export/export-onnx.ts';

export default async function exportTestOnnxModel(): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'featurize-onnx-'));
  const modelDir = defaultModelDir();
  const path = join(dir, `${(await loadModelDescriptor(modelDir)).name}.onnx`);
  await exportOnnx(modelDir, path, { verify: false });
  // Workers start after global setup and inherit this environment.
  process.env.FEATURIZE_ONNX_MODEL = path;
  return () => rm(dir, { recursive: true, force: true });
}

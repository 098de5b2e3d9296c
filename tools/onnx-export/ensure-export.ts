/**
 * What `featurize run` does before it starts: the ONNX export its engine runs, made only when it is missing or
 * stale, so that a fresh checkout needs no separate build step. The check reads the files' metadata; the exporter
 * (TF.js and ONNX Runtime, 0.9 s of CPU to import) is imported only when an export must be made.
 */
import { readFile } from 'node:fs/promises';
import { loadModelDescriptor } from '../../functions/shared/model/model-descriptor.ts';
import { onnxExportMetadata } from '../../functions/shared/model/onnx-schema.ts';
import type { OnnxExport } from './export-onnx.ts';
import { readTflite } from './tflite-model.ts';

/**
 * The export of `modelDir` at `outputPath`, made (and verified) only when it is missing or was made from another
 * model.json. Returns the new export, or undefined when the file was already right.
 */
export async function ensureOnnxExport(modelDir: string, outputPath: string): Promise<OnnxExport | undefined> {
  const descriptor = await loadModelDescriptor(modelDir);
  const existing = await readFile(outputPath).catch(() => undefined);
  if (existing && onnxExportMetadata(existing, outputPath).source === descriptor.id) return undefined;
  const { exportOnnx } = await import('./export-onnx.ts');
  return exportOnnx(modelDir, outputPath, { verify: true });
}

/** As ensureOnnxExport, for the int8 export: made again when its float model or its TFLite file changed. */
export async function ensureOnnxInt8Export(modelDir: string, tflitePath: string, outputPath: string): Promise<OnnxExport | undefined> {
  const [descriptor, tflite] = await Promise.all([loadModelDescriptor(modelDir), readTflite(tflitePath)]);
  const existing = await readFile(outputPath).catch(() => undefined);
  const made = existing && onnxExportMetadata(existing, outputPath);
  if (made && made.source === descriptor.id && made.precision === 'int8' && made.quantizedFrom === tflite.id) return undefined;
  const { exportOnnxInt8 } = await import('./export-onnx.ts');
  return exportOnnxInt8(modelDir, tflitePath, outputPath, { verify: true });
}

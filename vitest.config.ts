import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/onnx-global-setup.ts'],
    // Model loading and real inference on the wasm backend take seconds, not milliseconds.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: each test file that loads the model is CPU-bound already.
    maxWorkers: 2,
    env: { POWERTOOLS_LOG_LEVEL: 'WARN', POWERTOOLS_METRICS_DISABLED: 'true', AWS_REGION: 'us-east-1' },
  },
});

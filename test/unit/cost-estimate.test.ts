import { describe, expect, it } from 'vitest';
import { type CostInputs, estimateCost, formatCostEstimate } from '../../infra/cost-estimate.ts';

const million: CostInputs = {
  images: 1_000_000,
  cpuMsPerImage: 10,
  extractMemoryMb: 3008,
  maxItemsPerBatch: 250,
  maxConcurrency: 100,
  coldStartSeconds: 10,
  reduceSeconds: 600,
  reduceMemoryMb: 3008,
  validateSeconds: 120,
  validateMemoryMb: 2048,
};
const line = (inputs: CostInputs, item: string) => estimateCost(inputs).lines.find((l) => l.item.startsWith(item))?.usd;

describe('cost estimate', () => {
  it('prices a million images at 10 ms of CPU from the CPU time, whatever the memory: 10,000 vCPU-seconds, 17,275 GB-s of x86 Lambda', () => {
    expect(line(million, 'extract compute')).toBeCloseTo(((1e6 * 0.01 * 1769) / 1024) * 0.0000166667, 6);
    expect(line({ ...million, extractMemoryMb: 1769 }, 'extract compute')).toBeCloseTo(line(million, 'extract compute')!, 9);
    // 100 containers each load the model once: 100 x 10 s x 2.9375 GB.
    expect(line(million, 'extract cold starts')).toBeCloseTo(2_937.5 * 0.0000166667, 6);
  });

  it('counts one request, one EXPRESS child and one shard per batch of 250', () => {
    expect(line(million, 'extract requests')).toBeCloseTo(4000 * 0.0000002, 9);
    // 4,000 children: $1 per million requests, plus 250 images at 10 ms over 1.7 vCPUs each, billed at 64 MB.
    expect(line(million, 'Distributed Map EXPRESS')).toBeCloseTo(
      4000 * 0.000001 + 4000 * ((250 * 0.01 * 1769) / 3008) * 0.0625 * 0.00001667,
      9,
    );
    // The parent counts a state transition per child, EXPRESS or not.
    expect(line(million, 'Distributed Map child transitions')).toBeCloseTo(4000 * 0.000025, 9);
    // One GET per image, a PUT per shard, a LIST per 1,000 keys, a GET per shard for the reducer.
    expect(line(million, 'S3 requests')).toBeCloseTo(1e6 * 4e-7 + 4000 * 5e-6 + 1000 * 5e-6 + 4000 * 4e-7, 9);
  });

  it('scales extraction with the measured time per image, and adds every line into the total', () => {
    const wasm = estimateCost({ ...million, cpuMsPerImage: 40 });
    expect(line({ ...million, cpuMsPerImage: 40 }, 'extract compute')).toBeCloseTo(4 * line(million, 'extract compute')!, 9);
    expect(wasm.totalUsd).toBeCloseTo(
      wasm.lines.reduce((sum, l) => sum + l.usd, 0),
      12,
    );
    expect(wasm.totalUsd).toBeGreaterThan(estimateCost(million).totalUsd);
    // 1280 float32 per image: ~4.77 GiB for a million vectors.
    expect(wasm.storagePerMonthUsd).toBeCloseTo(((1e6 * 5120) / 1024 ** 3) * 0.023, 9);
  });

  it('prices an arm64 extract function at the Graviton GB-second', () => {
    const arm = { ...million, extractArchitecture: 'arm64' as const };
    expect(line(arm, 'extract compute (arm64)')).toBeCloseTo((line(million, 'extract compute (x86_64)')! * 0.0000133334) / 0.0000166667, 9);
  });

  it('adds the upload path for a triggered run: an EventBridge event, an SQS send, and a share of receives and deletes per image', () => {
    expect(line(million, 'upload path')).toBeUndefined();
    expect(line({ ...million, triggered: true }, 'upload path')).toBeCloseTo(1e6 * (1e-6 + 1.1 * 4e-7), 9);
  });

  it('formats a Markdown table ending with the total and the monthly storage', () => {
    const table = formatCostEstimate(estimateCost(million)).split('\n');
    expect(table[0]).toBe('| 1,000,000 images | USD |');
    expect(table.at(-2)).toMatch(/^\| \*\*total per run\*\* \| \*\*\$\d+\.\d+\*\* \|$/);
    expect(table.at(-1)).toMatch(/^\| storage of the vectors, per month \| \$0\.\d{4} \|$/);
  });
});

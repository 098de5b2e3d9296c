import { describe, expect, it } from 'vitest';
import { type ModelInputs, predictRun, rampSeconds } from '../../bench/aws-model.ts';
import {
  expressBilledGb,
  expressPerGbSecond,
  expressPerRequest,
  lambdaArmPerGbSecond,
  lambdaPerRequest,
  lambdaX86PerGbSecond,
  parentStateTransitions,
  s3PerGet,
  s3PerPutOrList,
  standardPerStateTransition,
} from '../../infra/cost-estimate.ts';

const inputs: ModelInputs = {
  images: 1_000_000,
  // 10 ms of wall time per image on 3,072 MB, which has 3072 / 1769 vCPUs.
  cpuMsPerImage: (10 * 3072) / 1769,
  maxItemsPerBatch: 250,
  extractMemoryMb: 3072,
  maxConcurrency: 2500,
  accountConcurrency: 5000,
  coldStartSeconds: 10,
  tail: {
    rows: 100_000,
    steps: [
      { name: 'planReduce', children: 1, maxChildSeconds: 30, maxChildPeakMiB: 300, seconds: 31 },
      { name: 'validate', children: 4, maxChildSeconds: 20, maxChildPeakMiB: 200, seconds: 22 },
    ],
  },
  tailSizing: { planReduce: { memoryMb: 3072, architecture: 'arm64' }, validate: { memoryMb: 2048, architecture: 'arm64' } },
};

describe('the AWS model', () => {
  it('brings up 1,000 environments per function every 10 s', () => {
    expect([1, 1000, 1001, 2500, 10_000].map(rampSeconds)).toEqual([0, 0, 10, 20, 90]);
  });

  it('predicts extraction: batches in waves of the lowest concurrency limit, after the ramp and a cold start', () => {
    const [extract] = predictRun(inputs).steps;

    // 4,000 batches of 2.5 s, 2,500 at once (MaxConcurrency under the map's 10,000 and the account's 5,000).
    expect(extract).toMatchObject({ name: 'extract', children: 4000, concurrency: 2500, childSeconds: 12.5, limits: [] });
    expect(extract!.wallSeconds).toBe(20 + 10 + 2 * 2.5);
    const gb = 3;
    const batches = 4000;
    const bill =
      1e6 * 0.01 * gb * lambdaX86PerGbSecond +
      2500 * 10 * gb * lambdaX86PerGbSecond +
      batches * lambdaPerRequest +
      batches * expressPerRequest +
      batches * 250 * 0.01 * expressBilledGb * expressPerGbSecond +
      batches * standardPerStateTransition +
      parentStateTransitions * standardPerStateTransition +
      1e6 * s3PerGet +
      batches * s3PerPutOrList +
      1000 * s3PerPutOrList +
      batches * s3PerGet;
    expect(extract!.usd).toBeCloseTo(bill, 10);
  });

  it('scales a one-child step with the run, and a fanned-out step by its children at the measured rows per child', () => {
    const [, reduce, validate] = predictRun(inputs).steps;

    expect(reduce).toMatchObject({ children: 1, childSeconds: 300, wallSeconds: 300, limits: [] });
    expect(reduce!.usd).toBeCloseTo(300 * 3 * lambdaArmPerGbSecond + lambdaPerRequest, 12);
    // 25,000 rows a child as measured: 40 children of 20 s, all at once.
    expect(validate).toMatchObject({ children: 40, concurrency: 40, childSeconds: 20, wallSeconds: 20 });
    expect(validate!.usd).toBeCloseTo(40 * (20 * 2 * lambdaArmPerGbSecond + lambdaPerRequest), 12);
    expect(predictRun(inputs).wallSeconds).toBe(35 + 300 + 20);
  });

  it("names the limits a run breaks: Lambda's 15 minutes for one invocation, EXPRESS's 5 minutes for a batch", () => {
    const prediction = predictRun({ ...inputs, images: 1e7, cpuMsPerImage: (1200 * 3072) / 1769, accountConcurrency: 1000 });

    const [extract, reduce] = prediction.steps;
    expect(extract!.concurrency).toBe(1000);
    expect(extract!.limits).toEqual(["a batch takes 310 s, over EXPRESS's 300 s"]);
    expect(reduce!.limits).toEqual(["one invocation takes 3000 s, over Lambda's 900 s: the step must fan out"]);
  });
});

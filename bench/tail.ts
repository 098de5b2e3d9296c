/**
 * `npm run bench:tail -- --rows N [--json FILE]`: the steps after extraction (planReduce, the reduce fan-out's
 * children: reducePart then auditPart, finishReduce, validate, publish) over N rows of synthetic shards (bench/synthetic-run.ts),
 * each step's invocations in processes of their own (bench/tail-step.ts), as Lambda runs them; a fan-out's
 * children as many at once as this machine has cores, so that a child's seconds are its own work, as on a Lambda
 * of its own, not a share of two cores among dozens: per step, how many children (invocations) it took, the slowest
 * child's seconds (its work) and peak memory, and the step's seconds from its first child's start to its last
 * child's end (process start-up included).
 * Writes `{ rows, steps: [{ name, children, maxChildSeconds, maxChildPeakMiB, seconds }] }` (model:aws reads it).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import pMap from 'p-map';
import { reducePlanKey } from '../functions/shared/run-layout.ts';
import { openStorage } from '../functions/shared/storage/open-storage.ts';
import type { PlanReduceResult, ReduceGroup, ReduceResult, ValidationResult } from '../statemachine/contracts.ts';
import { badArgument, benchArgs, wholeNumberArg } from './bench-args.ts';
import { runStepProcess } from './step-process.ts';
import { writeSyntheticRun } from './synthetic-run.ts';
import type { TailStepName, TailStepRequest } from './tail-step.ts';

export interface TailStep {
  name: TailStepName;
  children: number;
  maxChildSeconds: number;
  maxChildPeakMiB: number;
  seconds: number;
}

export interface TailBench {
  rows: number;
  steps: TailStep[];
}

const args = benchArgs(import.meta.filename, { rows: { type: 'string' }, json: { type: 'string' } });
const rows =
  args.rows === undefined
    ? badArgument(import.meta.filename, '--rows N is required, e.g. --rows 20000')
    : wholeNumberArg(import.meta.filename, 'rows', args.rows);

const dir = await mkdtemp(join(tmpdir(), 'bench-tail-'));
try {
  console.log(`bench:tail: ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}; writing ${rows} rows of synthetic shards`);
  const run = await writeSyntheticRun(dir, rows);
  // As deployed: one part per FEATURIZE_PART_ROWS rows (infra/pipeline-state-machine.ts's ReduceParallelism).
  const plan = await step('planReduce', [{ ...run, reduceParallelism: 1 }]);
  const planned = plan.reports[0]!.result as PlanReduceResult;
  // The ReduceParts map's items, as its ItemReader reads them: one child per group.
  const groups = JSON.parse(Buffer.from(await openStorage(run.output).read(reducePlanKey(run.runId))).toString('utf8')) as ReduceGroup[];
  const batchInput = {
    runId: run.runId,
    input: run.input,
    manifest: run.manifest,
    output: run.output,
    scope: run.scope,
    startedAt: run.startedAt,
    // This bench measures the tail without PCA: no part moments.
    pca: null,
  };
  const children = groups.map((group) => ({ Items: [group] as [ReduceGroup], BatchInput: batchInput }));
  const parts = await step('reducePart', children);
  // A child's second state: its part read back, its range of the input listed.
  const audits = await step('auditPart', children);
  const finish = await step('finishReduce', [{ output: run.output, plan: planned, mapError: null }]);
  const reduced = finish.reports[0]!.result as ReduceResult;
  const validate = await step('validate', [{ ...run, toleratedFailurePercentage: 0, reduce: reduced }]);
  const validation = validate.reports[0]!.result as ValidationResult;
  if (!validation.passed) throw new Error(`the synthetic run failed validation: ${validation.summary}`);
  const publish = await step('publish', [run]);
  const bench: TailBench = {
    rows,
    steps: [plan.figures, parts.figures, audits.figures, finish.figures, validate.figures, publish.figures],
  };
  console.table(bench.steps);
  if (args.json) await writeFile(args.json, `${JSON.stringify(bench, null, 2)}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}

/** Runs the step's children (one event each, a core's worth at once) and sums them up. */
async function step<Name extends TailStepName>(name: Name, events: Extract<TailStepRequest, { step: Name }>['event'][]) {
  const started = performance.now();
  const requests = events.map((event) => ({ step: name, event }) as TailStepRequest);
  const reports = await pMap(requests, runStepProcess, { concurrency: availableParallelism() });
  const figures: TailStep = {
    name,
    children: reports.length,
    maxChildSeconds: round(Math.max(...reports.map((report) => report.seconds))),
    maxChildPeakMiB: Math.round(Math.max(...reports.map((report) => report.peakMiB))),
    seconds: round((performance.now() - started) / 1000),
  };
  return { figures, reports };
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

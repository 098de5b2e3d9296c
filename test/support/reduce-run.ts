/**
 * The reduce fan-out in one process, for tests and benchmarks that need a run's staged parts without the state
 * machine: PlanReduce, then each group of the plan as its ReduceParts child would compact it (one after the
 * other), then FinishReduce; then (reduceEvent, auditRun) each group's audit as the child's AuditPart writes it.
 * The same functions the Lambdas run.
 */
import { auditPart } from '../../functions/audit-part/audit-part.ts';
import { finishReduce } from '../../functions/finish-reduce/finish-reduce.ts';
import { planReduce } from '../../functions/plan-reduce/plan-reduce.ts';
import { type ReduceOptions, reduceGroup } from '../../functions/reduce-part/reduce-part.ts';
import { type ReduceSettings, reduceSettings } from '../../functions/shared/config.ts';
import { defaultVectorShape } from '../../functions/shared/model/model-descriptor.ts';
import { reducePlanKey } from '../../functions/shared/run-layout.ts';
import { openStorage } from '../../functions/shared/storage/open-storage.ts';
import type { Storage } from '../../functions/shared/storage/storage.ts';
import type { ReduceGroup, ReduceResult, RunEvent } from '../../statemachine/contracts.ts';

export interface ReduceRequest {
  runId: string;
  input: Storage;
  output: Storage;
  startedAt: string;
  /** The output location's key prefix in its bucket: the map's manifest names result files by full key. */
  outputPrefix: string;
  /** The run fits PCA: each group's part moments are written too. */
  moments?: boolean;
}

export async function reduceRun(request: ReduceRequest, options: ReduceSettings & Pick<ReduceOptions, 'now'>): Promise<ReduceResult> {
  const { runId, input, output, startedAt } = request;
  // The plan's bucket only tells the map's ItemReader where to read; here the plan is read through `output`.
  const plan = await planReduce({ runId, output, outputLocation: { bucket: output.root, prefix: request.outputPrefix } }, options);
  const groups = JSON.parse(Buffer.from(await output.read(reducePlanKey(runId))).toString('utf8')) as ReduceGroup[];
  for (const group of groups) await reduceGroup({ runId, group, input, output, startedAt, moments: request.moments ?? false }, options);
  return finishReduce({ output, plan });
}

/**
 * What the reduce states do with the state machine's event (the reduce settings read from the environment),
 * with the part moments of a run that fits PCA when `moments`, each group audited afterwards; `beforeAudit` runs between, to change what the reducer wrote as a faulty
 * reducer would have.
 */
export async function reduceEvent(
  event: RunEvent,
  beforeAudit?: (reduced: ReduceResult) => Promise<void>,
  moments = false,
): Promise<ReduceResult> {
  const reduced = await reduceRun(
    {
      runId: event.runId,
      input: openStorage({ bucket: event.input.bucket }),
      output: openStorage(event.output),
      startedAt: event.startedAt,
      outputPrefix: event.output.prefix,
      moments,
    },
    reduceSettings(),
  );
  await beforeAudit?.(reduced);
  await auditRun(event);
  return reduced;
}

/** Every group of the run's plan audited, one after the other, as the ReduceParts children's AuditPart states do. */
export async function auditRun(event: RunEvent): Promise<void> {
  const output = openStorage(event.output);
  const groups = JSON.parse(Buffer.from(await output.read(reducePlanKey(event.runId))).toString('utf8')) as ReduceGroup[];
  for (const group of groups) {
    await auditPart(
      { runId: event.runId, group, output, input: event.input, manifest: event.manifest, scope: event.scope },
      defaultVectorShape,
    );
  }
}

import aslValidator from 'asl-validator';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { describe, expect, it } from 'vitest';
import { loadDefinition } from '../../statemachine/definition.ts';
import { adaptDefinition } from '../../statemachine/local/adapt-definition.ts';
import { stepFunctionArn, substitutionsFor } from '../../statemachine/local/run-pipeline.ts';

const definition = () =>
  loadDefinition(
    substitutionsFor({
      runId: 'r',
      input: { bucket: '/in', prefix: '' },
      output: { bucket: '/out', prefix: '' },
      maxItemsPerBatch: 10,
      maxConcurrency: 0,
      toleratedFailurePercentage: 5,
      workers: 1,
      env: {},
    }),
  );

const asRecord = (value: unknown) => value as Record<string, Record<string, unknown>>;

describe('definition adapted for aws-local-stepfunctions', () => {
  it('is valid ASL, ARNs and paths checked as the library would check it (the local runner skips that check per run)', async () => {
    const result = aslValidator(adaptDefinition(await definition()).definition, { checkArn: true, checkPaths: true });
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('turns each Distributed Map into a Task state of the same name that keeps its ResultPath, Catch and Next', async () => {
    const original = await definition();
    const { definition: adapted, distributedMaps } = adaptDefinition(original);
    expect([...distributedMaps.keys()]).toEqual(['Extract', 'ExtractManifest', 'ReduceParts', 'PcaParts']);
    const states = asRecord(adapted.States);
    const map = asRecord(original.States).Extract!;
    expect(states.Extract).toEqual({
      Type: 'Task',
      Resource: expect.stringMatching(/^arn:aws:states:[^:]+:\d+:distributedMap:Extract$/),
      TimeoutSeconds: expect.any(Number),
      Comment: map.Comment,
      ResultPath: '$.map',
      Catch: map.Catch,
      Next: 'PlanReduce',
    });
    expect(distributedMaps.get('Extract')).toMatchObject({ ItemReader: map.ItemReader, ItemBatcher: map.ItemBatcher });
  });

  it('gives Task states without TimeoutSeconds no timeout, as on AWS, where the library would stop them after 60 s', async () => {
    const { definition: adapted, distributedMaps } = adaptDefinition(await definition());
    expect(asRecord(adapted.States).PlanReduce).toMatchObject({ Resource: stepFunctionArn('PlanReduce'), TimeoutSeconds: 2147483 });
    expect(distributedMaps.get('Extract')!.ItemProcessor.States.ExtractBatch).toMatchObject({ TimeoutSeconds: 2147483 });
  });

  it('rewrites a type test set to false, which the library never matches, as the equivalent Not', async () => {
    const { definition: adapted } = adaptDefinition(await definition());
    expect(asRecord(adapted.States).ChooseItemSource!.Choices).toEqual([
      { Not: { Variable: '$.manifest', IsNull: true }, Next: 'ExtractManifest' },
    ]);
    const nested = adaptDefinition({
      StartAt: 'C',
      States: {
        C: {
          Type: 'Choice',
          Choices: [
            {
              And: [
                { Variable: '$.a', IsPresent: false },
                { Variable: '$.b', IsNull: true },
              ],
              Next: 'S',
            },
          ],
          Default: 'S',
        },
        S: { Type: 'Succeed' },
      },
    } as unknown as StateMachineDefinition);
    expect(asRecord(nested.definition.States).C!.Choices).toEqual([
      { And: [{ Not: { Variable: '$.a', IsPresent: true } }, { Variable: '$.b', IsNull: true }], Next: 'S' },
    ]);
  });

  it('refuses a Distributed Map field the local runner does not implement, naming it', async () => {
    const original = await definition();
    asRecord(original.States).Extract!.ItemSelector = { 'key.$': '$$.Map.Item.Value.Key' };
    expect(() => adaptDefinition(original)).toThrow('Distributed Map state Extract: ItemSelector is not implemented by the local runner');
  });
});

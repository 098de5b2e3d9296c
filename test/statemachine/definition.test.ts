import aslValidator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import {
  type DefinitionSubstitutions,
  distributedMapStates,
  placeholderNames,
  readDefinitionText,
  substituteDefinition,
} from '../../statemachine/definition.ts';
import { localFunctionArn } from '../../statemachine/local/local-arns.ts';

const values: DefinitionSubstitutions = {
  InputBucket: '/data/images with "quotes" and \\ backslashes',
  InputPrefix: '',
  OutputBucket: 'fruits-datasets',
  OutputPrefix: 'mobilenet-v2/',
  GrantedOutputPrefixes: 'mobilenet-v2/',
  MaxItemsPerBatch: '100',
  MaxInputBytesPerBatch: '262144',
  MaxConcurrency: '0',
  ToleratedFailurePercentage: '5',
  PcaDefault: '0.95',
  IndexDefault: 'false',
  ReduceParallelism: '1',
  CheckRunFunctionArn: localFunctionArn('featurize-check-run'),
  ExtractFunctionArn: localFunctionArn('featurize-extract'),
  PlanReduceFunctionArn: localFunctionArn('featurize-plan-reduce'),
  ReducePartFunctionArn: localFunctionArn('featurize-reduce-part'),
  AuditPartFunctionArn: localFunctionArn('featurize-audit-part'),
  FinishReduceFunctionArn: localFunctionArn('featurize-finish-reduce'),
  ValidateFunctionArn: localFunctionArn('featurize-validate'),
  PublishFunctionArn: localFunctionArn('featurize-publish'),
  PcaFunctionArn: localFunctionArn('featurize-pca'),
  PcaPartFunctionArn: localFunctionArn('featurize-pca-part'),
  PublishPcaFunctionArn: localFunctionArn('featurize-publish-pca'),
  UpdateIndexFunctionArn: localFunctionArn('featurize-update-index'),
  ReportFunctionArn: localFunctionArn('featurize-report'),
};

describe('state machine definition', () => {
  it('is valid ASL as written, placeholders and all', async () => {
    const definition = JSON.parse(await readDefinitionText());
    const result = aslValidator(definition);
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('names exactly the substitutions the local runner and the CDK app provide', async () => {
    expect(placeholderNames(await readDefinitionText()).sort()).toEqual(Object.keys(values).sort());
  });

  it('is valid ASL once every placeholder is filled, and keeps values with quotes and backslashes intact', async () => {
    const definition = substituteDefinition(await readDefinitionText(), { ...values });
    const result = aslValidator(definition);
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
    const prepare = definition.States.Prepare as unknown as { Parameters: { defaults: { input: { bucket: string } } } };
    expect(prepare.Parameters.defaults.input.bucket).toBe(values.InputBucket);
    expect(JSON.stringify(definition)).not.toContain('${Extract');
  });

  it('names its Distributed Maps and the functions their children invoke: extraction (two item sources), the reduce and PCA fan-outs', async () => {
    expect(distributedMapStates(await readDefinitionText())).toEqual([
      ['Extract', ['${ExtractFunctionArn}']],
      ['ExtractManifest', ['${ExtractFunctionArn}']],
      ['ReduceParts', ['${ReducePartFunctionArn}', '${AuditPartFunctionArn}']],
      ['PcaParts', ['${PcaPartFunctionArn}']],
    ]);
  });

  it('refuses to fill a definition when a placeholder has no value, naming it', async () => {
    const { PlanReduceFunctionArn: _, ...incomplete } = values;
    expect(() => substituteDefinition('{"Resource": "${PlanReduceFunctionArn}", "Other": "${ExtractFunctionArn}"}', incomplete)).toThrow(
      /placeholder\(s\): PlanReduceFunctionArn$/,
    );
  });
});

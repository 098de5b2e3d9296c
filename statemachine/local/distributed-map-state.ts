/**
 * The Distributed Map fields the local runner implements, and the check that a Map state asks for nothing
 * else: a field it would silently ignore fails the run before it starts, naming the field.
 */
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { ConfigError } from '../../functions/shared/errors.ts';
import type { JsonObject } from './json.ts';

export const listObjectsResource = 'arn:aws:states:::s3:listObjectsV2';
export const getObjectResource = 'arn:aws:states:::s3:getObject';
export const putObjectResource = 'arn:aws:states:::s3:putObject';
/** The one ResultWriter format implemented (result-writer.ts): records whole, one a line. */
export const resultWriterConfig = { Transformation: 'NONE', OutputType: 'JSONL' } as const;

export interface ItemReaderConfig {
  Resource: typeof listObjectsResource | typeof getObjectResource;
  /** listObjectsV2: `{ Bucket, Prefix }`; getObject: `{ Bucket, Key }`. */
  Parameters?: JsonObject;
  /** getObject reads a JSON array. */
  ReaderConfig?: { InputType: 'JSON' };
}

export interface DistributedMapState {
  Type: 'Map';
  Label?: string;
  ItemReader: ItemReaderConfig;
  ItemBatcher: {
    MaxItemsPerBatch?: number;
    MaxItemsPerBatchPath?: string;
    MaxInputBytesPerBatch?: number;
    MaxInputBytesPerBatchPath?: string;
    BatchInput?: JsonObject;
  };
  ItemProcessor: StateMachineDefinition & { ProcessorConfig: { Mode: 'DISTRIBUTED'; ExecutionType?: string } };
  MaxConcurrency?: number;
  MaxConcurrencyPath?: string;
  ToleratedFailurePercentage?: number;
  ToleratedFailurePercentagePath?: string;
  ResultWriter: { Resource: typeof putObjectResource; Parameters: JsonObject; WriterConfig: typeof resultWriterConfig };
}

/** Fields of the Map state itself that the Task state standing in for it keeps as they are. */
export const taskStateFields = ['Comment', 'InputPath', 'ResultPath', 'ResultSelector', 'OutputPath', 'Retry', 'Catch', 'Next', 'End'];

const mapFields = new Set([
  'Type',
  'Label',
  'ItemReader',
  'ItemBatcher',
  'ItemProcessor',
  'MaxConcurrency',
  'MaxConcurrencyPath',
  'ToleratedFailurePercentage',
  'ToleratedFailurePercentagePath',
  'ResultWriter',
  ...taskStateFields,
]);

export function isDistributedMap(state: { Type: string }): boolean {
  return (
    state.Type === 'Map' &&
    (state as { ItemProcessor?: DistributedMapState['ItemProcessor'] }).ItemProcessor?.ProcessorConfig?.Mode === 'DISTRIBUTED'
  );
}

/** The Map state as a DistributedMapState, or a ConfigError naming what the local runner does not implement. */
export function checkDistributedMap(name: string, state: JsonObject): DistributedMapState {
  const unsupported = (what: string) => new ConfigError(`Distributed Map state ${name}: ${what} is not implemented by the local runner`);
  const extra = Object.keys(state).filter((field) => !mapFields.has(field));
  if (extra.length > 0) throw unsupported(extra.join(', '));

  const reader = state.ItemReader as JsonObject | undefined;
  if (!reader) throw unsupported('a Map without ItemReader (items from the state input)');
  if (reader.Resource === listObjectsResource) {
    if (reader.ReaderConfig !== undefined) throw unsupported('ReaderConfig with listObjectsV2');
  } else if (reader.Resource === getObjectResource) {
    const config = reader.ReaderConfig as JsonObject | undefined;
    if (config?.InputType !== 'JSON' || Object.keys(config).length !== 1) {
      throw unsupported('an s3:getObject ItemReader other than ReaderConfig { InputType: JSON }');
    }
  } else {
    throw unsupported(`ItemReader Resource ${JSON.stringify(reader.Resource)}`);
  }
  if (!state.ItemBatcher) throw unsupported('a Map without ItemBatcher (one child execution per item)');
  const writer = state.ResultWriter as JsonObject | undefined;
  if (!writer || writer.Resource !== putObjectResource || !writer.Parameters) {
    throw unsupported('a Map without a ResultWriter to S3 (s3:putObject with Parameters)');
  }
  const config = writer.WriterConfig as JsonObject | undefined;
  if (config?.Transformation !== resultWriterConfig.Transformation || config.OutputType !== resultWriterConfig.OutputType) {
    throw unsupported(`a ResultWriter other than WriterConfig ${JSON.stringify(resultWriterConfig)}`);
  }
  return state as unknown as DistributedMapState;
}

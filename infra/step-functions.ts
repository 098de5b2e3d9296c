/**
 * One Lambda function per step of the state machine, built from the list of steps (statemachine/steps.ts): the
 * container steps (extract, the index, the report: native sharp, ONNX Runtime, LanceDB) from one image, each
 * naming its own handler; the others as Node.js 22 zips on arm64 with the Parquet layer; each allowed exactly the
 * S3 access its step lists.
 */
import { Annotations, Duration, Size } from 'aws-cdk-lib';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { Architecture, Code, DockerImageCode, DockerImageFunction, type IFunction, LayerVersion, Runtime } from 'aws-cdk-lib/aws-lambda';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { readDefinitionTextSync, retriersOf } from '../statemachine/definition.ts';
import { functionArnPlaceholder, type Step, type StepName, steps } from '../statemachine/steps.ts';
import { layerPackages, repoRoot, requireLayer, requireModel } from './assets.ts';
import { checkedExtractTimeout } from './extract-sizing.ts';
import { commonEnvironment, functionBasics, nodeFunction } from './functions.ts';
import { accessStatements, grant, withBucketKey } from './grants.ts';
import type { LeaseTable } from './lease-table.ts';
import { memorySettingName, type StackSettings } from './settings.ts';

/** The one container image's Dockerfile, relative to the repository (its build context). */
export const containerDockerfile = 'functions/extract/Dockerfile';

/** The Lambda handler (the image's CMD) of a container step: the Dockerfile bundles `functions/<folder>/handler.ts` as `<folder>.mjs`. */
export function containerHandler(step: Pick<Step, 'folder'>): string {
  return `${step.folder}.handler`;
}

export interface StepFunctionsProps {
  bucket: IBucket;
  settings: StackSettings;
  leases: LeaseTable;
}

export class StepFunctions extends Construct {
  /** Each step's function, by step name. */
  readonly functions: Record<StepName, IFunction>;

  constructor(scope: Construct, id: string, { bucket, settings, leases }: StepFunctionsProps) {
    super(scope, id);
    // Every zip function reads or writes Parquet: one layer holds the libraries (layers/parquet).
    const parquetLayer = new LayerVersion(this, 'ParquetLayer', {
      description: 'Parquet and Arrow libraries for the zip functions (layers/parquet)',
      code: Code.fromAsset(requireLayer('parquet')),
      compatibleRuntimes: [Runtime.NODEJS_22_X],
      compatibleArchitectures: [Architecture.ARM_64, Architecture.X86_64],
    });
    const functions: Partial<Record<StepName, IFunction>> = {};
    for (const step of steps) {
      const fn = step.packaging === 'container' ? this.containerFunction(step, settings) : this.zipFunction(step, settings, parquetLayer);
      grant(fn.role, withBucketKey(accessStatements(bucket, step.access, settings), settings.bucketKmsKeyArn));
      if ('lease' in step.access && step.access.lease) {
        leases.grantLeases(fn);
        fn.addEnvironment('FEATURIZE_LEASE_TABLE', leases.table.tableName);
      }
      functions[step.name] = fn;
    }
    this.functions = functions as Record<StepName, IFunction>;
  }

  /**
   * A container step: the one image (sharp, ONNX Runtime or tfjs-node, LanceDB and the model, built from
   * functions/extract/Dockerfile, which bundles every container step's handler), its CMD naming this step's
   * handler. Every container function passes the same image options, so CDK builds and pushes one image (one
   * asset hash); the steps that do not extract never read the model or ONNX Runtime, and Lambda loads an image's
   * blocks as they are read (https://brooker.co.za/blog/2023/05/23/snapshot-loading.html), so they do not pay for
   * them at a cold start.
   */
  private containerFunction(step: Step, settings: StackSettings): DockerImageFunction {
    // The model folder the function loads, and the engine's own artifact (build/model/<engine>/), must be built.
    requireModel(settings.modelDir.slice('/opt/model/'.length));
    requireModel(settings.engine);
    const extract = step.name === 'Extract';
    if (extract && settings.extractReservedConcurrency !== undefined && settings.extractReservedConcurrency < settings.maxConcurrency) {
      Annotations.of(this).addWarning(
        `extractReservedConcurrency ${settings.extractReservedConcurrency} is below maxConcurrency ${settings.maxConcurrency}: ` +
          'batches beyond the reservation are throttled and retried, and past their retries fail',
      );
    }
    if (extract && settings.engine === 'tfjs' && !settings.tfjsNode) {
      Annotations.of(this).addWarning('engine tfjs without -c tfjsNode=true: the extract function runs TF.js on its wasm backend (slow)');
    }
    return new DockerImageFunction(this, step.name, {
      description: step.description,
      code: DockerImageCode.fromImageAsset(repoRoot, {
        file: containerDockerfile,
        buildArgs: { TFJS_NODE: String(settings.tfjsNode) },
        // The image is built for the functions' CPU (the Dockerfile keeps that platform's ONNX Runtime binding;
        // npm installs that platform's sharp and LanceDB binaries).
        platform: settings.extractArchitecture === 'arm64' ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64,
        // The Dockerfile bundles each container step's handler as <folder>.mjs
        // (https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html: `<module>.<export>`).
        cmd: [containerHandler(step)],
      }),
      architecture: settings.extractArchitecture === 'arm64' ? Architecture.ARM_64 : Architecture.X86_64,
      memorySize: settings[memorySettingName(step as { name: StepName })],
      timeout: Duration.seconds(this.timeoutSeconds(step, settings)),
      ...(step.ephemeralStorageMb !== undefined ? { ephemeralStorageSize: Size.mebibytes(step.ephemeralStorageMb) } : {}),
      // Opt-in (infra/settings.ts): the batches then never compete with the account's other functions, nor take
      // more than this from them.
      ...(extract && settings.extractReservedConcurrency !== undefined
        ? { reservedConcurrentExecutions: settings.extractReservedConcurrency }
        : {}),
      environment: {
        FEATURIZE_ENGINE: settings.engine,
        FEATURIZE_RESIZE: settings.resize,
        FEATURIZE_MODEL_DIR: settings.modelDir,
        ...commonEnvironment,
      },
      ...functionBasics(this, step.name),
    });
  }

  private zipFunction(step: Step, settings: StackSettings, layer: LayerVersion) {
    return nodeFunction(this, step.name, `functions/${step.folder}/handler.ts`, {
      description: step.description,
      memorySize: settings[memorySettingName(step as { name: StepName })],
      timeout: Duration.seconds(this.timeoutSeconds(step, settings)),
      layers: [layer],
      externalModules: layerPackages('parquet'),
    });
  }

  /**
   * A batch's timeout from the batch size and the time per image, refused above what its EXPRESS child execution
   * allows with the definition's retries (extract-sizing.ts); a fixed one otherwise.
   */
  private timeoutSeconds(step: Step, settings: StackSettings): number {
    if (step.timeoutSeconds !== 'per-batch') return step.timeoutSeconds;
    const retriers = retriersOf(readDefinitionTextSync(), functionArnPlaceholder(step));
    return checkedExtractTimeout(settings.maxItemsPerBatch, settings.msPerImage, retriers);
  }
}

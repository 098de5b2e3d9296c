/** Schemas of what the state machine passes between states, shared by the handlers that read them. */
import { z } from 'zod';
import { runIdPattern } from './run-layout.ts';
import { stepErrorSchema } from './step-error.ts';

export const storageLocationSchema = z.object({
  bucket: z.string().min(1),
  prefix: z.string().default(''),
});

export const runIdSchema = z.string().regex(runIdPattern, 'a run id: letters, digits, dot, dash, underscore (max 80)');

/**
 * One Distributed Map batch, as the map's ItemBatcher delivers it to the extract function and as the map's
 * ResultWriter records it (`Input`) for the reducer. Items' keys are relative to the input bucket.
 */
export const batchEventSchema = z.object({
  Items: z
    .array(
      z.looseObject({
        Key: z.string().min(1),
        Size: z.number().int().nonnegative().optional(),
        Etag: z.string().optional(),
      }),
    )
    .min(1),
  BatchInput: z.object({
    runId: runIdSchema,
    input: storageLocationSchema.pick({ bucket: true }),
    output: storageLocationSchema,
  }),
});

export type BatchEvent = z.infer<typeof batchEventSchema>;

/**
 * What the state machine passes every step after the map (Reduce, Validate): the run's settings and, when
 * the map failed, the error its Catch recorded.
 */
export const runEventSchema = z.object({
  runId: runIdSchema,
  input: storageLocationSchema,
  /** The JSON manifest of new keys of an incremental run; null for a full run over the input prefix. */
  manifest: z.object({ bucket: z.string().min(1), key: z.string().min(1) }).nullable(),
  output: storageLocationSchema,
  mapError: stepErrorSchema.nullable(),
});

export type RunEvent = z.infer<typeof runEventSchema>;

/** Schemas of what the state machine passes between states, shared by the handlers that read them. */
import { z } from 'zod';
import { runIdPattern } from './run-layout.ts';

export const storageLocationSchema = z.object({
  bucket: z.string().min(1),
  prefix: z.string().default(''),
});

export const runIdSchema = z.string().regex(runIdPattern, 'a run id: letters, digits, dot, dash, underscore (max 80)');

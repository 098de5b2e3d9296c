/**
 * The `pca` setting of a run, in every form a user gives it:
 *   execution input  `"pca": null | 0.95 | 64 | {} | { "varianceShare": 0.95 } | { "components": 64 } | { "model": "<uri>" }`
 *   CLI              `--pca 0.95 | 64 | off`, `--pca-model <uri>`
 *   CDK context      `-c pca=0.95 | 64 | off`, substituted into the ASL as `${PcaDefault}`
 * A bare number reads as scikit-learn's `n_components`: below 1 a share of variance, a whole number a count.
 */
import { z } from 'zod';
import { ConfigError } from '../errors.ts';
import type { PcaSelection } from './pca-model.ts';

/** What the PCA step does: fit a model on the run's vectors, or apply a saved one (`model.json` URI). */
export type PcaRequest = { fit: PcaSelection } | { apply: string };

export const defaultVarianceShare = 0.95;

const shorthandSchema = z.union([
  z
    .number()
    .gt(0)
    .lt(1)
    .transform((varianceShare): PcaRequest => ({ fit: { varianceShare } })),
  z
    .int()
    .positive()
    .transform((components): PcaRequest => ({ fit: { components } })),
]);

const requestObjectSchema = z
  .strictObject({
    varianceShare: z.number().gt(0).lte(1).optional(),
    components: z.int().positive().optional(),
    model: z.string().min(1).optional(),
  })
  .refine((o) => Object.keys(o).length <= 1, 'give at most one of varianceShare, components and model')
  .transform(
    ({ varianceShare = defaultVarianceShare, components, model }): PcaRequest =>
      model !== undefined ? { apply: model } : { fit: components !== undefined ? { components } : { varianceShare } },
  );

/** A requested PCA: what the PCA step accepts. `{}` fits with the default share. */
export const pcaRequestSchema = z.union([shorthandSchema, requestObjectSchema], {
  error:
    'expected null, a variance share in (0, 1), a whole number of components, {}, { varianceShare }, { components } or { model: "<uri of model.json>" }',
});

/** The `pca` setting of a run: null (no PCA) or a request. */
export const pcaSettingSchema = pcaRequestSchema.nullable();

/** The setting as a run's input carries it (`0.95`, `{ "model": "s3://…" }`, null...), before parsing. */
export type PcaSetting = z.input<typeof pcaSettingSchema>;

/** `--pca` and the CDK context `pca`: `off` (or `none`), a share in (0, 1), or a whole number of components. */
export function parsePcaText(text: string): number | null {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === 'off' || trimmed === 'none' || trimmed === 'null') return null;
  const value = Number(trimmed);
  if (trimmed === '' || !shorthandSchema.safeParse(value).success) {
    throw new ConfigError(
      `invalid PCA setting ${JSON.stringify(text)}: expected off, a variance share in (0, 1) such as 0.95, or a number of components such as 64`,
    );
  }
  return value;
}

/** The text the CDK app and the local runner substitute for `${PcaDefault}` (inside `States.StringToJson`). */
export function pcaDefaultSubstitution(text: string | undefined): string {
  return JSON.stringify(text === undefined ? null : parsePcaText(text));
}

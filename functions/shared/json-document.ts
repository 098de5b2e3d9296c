/**
 * A JSON document another step wrote (a map result, a manifest, a validation report, a PCA model), parsed and
 * checked against its schema. A missing, non-JSON or malformed document is one error of the caller's class,
 * naming where it is and what was wrong, so that each caller keeps its own retry semantics.
 */
import type { z } from 'zod';

export function parseJsonDocument<Schema extends z.ZodType>(
  schema: Schema,
  text: Uint8Array | string | undefined,
  where: string,
  options: { expected: string; error: new (message: string, options?: ErrorOptions) => Error },
): z.infer<Schema> {
  if (text === undefined) throw new options.error(`${where} is missing`);
  let value: unknown;
  try {
    value = JSON.parse(typeof text === 'string' ? text : new TextDecoder().decode(text));
  } catch (error) {
    throw new options.error(`${where} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new options.error(`${where} is not ${options.expected}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

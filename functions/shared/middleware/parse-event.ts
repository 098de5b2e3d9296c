import type middy from '@middy/core';
import type { z } from 'zod';
import { InvalidEventError } from '../errors.ts';

/**
 * Validates the event against a zod schema before the handler runs and hands the handler the parsed value.
 * A bad event fails at once with every problem named (`Items[3].Key: expected string`), and is not retried.
 */
export function parseEvent<Schema extends z.ZodType>(schema: Schema): middy.MiddlewareObj<unknown> {
  return {
    before: (request) => {
      const parsed = schema.safeParse(request.event);
      if (!parsed.success) {
        const problems = parsed.error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
        throw new InvalidEventError(`invalid event: ${problems.slice(0, 5).join('; ')}`, { cause: parsed.error });
      }
      request.event = parsed.data;
    },
  };
}

function formatPath(path: readonly PropertyKey[]): string {
  return (
    path.reduce<string>(
      (text, part) => (typeof part === 'number' ? `${text}[${part}]` : text ? `${text}.${String(part)}` : String(part)),
      '',
    ) || '(event)'
  );
}

/**
 * A step's error as a state machine Catch records it (`{ Error, Cause }`), where the Cause of a Lambda error is
 * the function's JSON error (`{ errorType, errorMessage, trace }`): its schema, and its gist for people.
 */
import { z } from 'zod';

export const stepErrorSchema = z.looseObject({ Error: z.string().optional(), Cause: z.string().optional() });

export type StepError = z.infer<typeof stepErrorSchema>;

/** `Error: message`, the message being a Lambda error's errorMessage rather than its stack trace; '' when empty. */
export function stepErrorText({ Error: name, Cause: cause }: StepError): string {
  let message = cause;
  try {
    const parsed = JSON.parse(cause ?? '') as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') message = parsed.errorMessage;
  } catch {
    // A plain-text cause (a timeout, a Step Functions error) is kept as it is.
  }
  return [name, message].filter(Boolean).join(': ');
}

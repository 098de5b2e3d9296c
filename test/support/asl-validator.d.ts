// asl-validator ships JavaScript and its TypeScript sources, but no declarations.
declare module 'asl-validator' {
  export interface ValidationResult {
    isValid: boolean;
    errors: { message?: string }[];
    errorsText(separator?: string): string;
  }
  export default function aslValidator(definition: unknown, options?: { checkArn?: boolean; checkPaths?: boolean }): ValidationResult;
}

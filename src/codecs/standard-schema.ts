import { ConfigError, DecodeError, ValidationError, type MessageLocation, type ValidationIssue } from '../core/errors.ts';

/**
 * The Standard Schema protocol (standardschema.dev), which zod, valibot, arktype and others
 * implement: a `~standard` property with a `validate` function. Declared structurally here so
 * Switchyard depends on no schema library.
 */
export interface StandardSchema<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (
      value: unknown,
    ) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<{ readonly message: string; readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined }> };

/** The type a Standard Schema produces. */
export type InferOutput<S> = S extends StandardSchema<unknown, infer O> ? O : never;

/** True when `value` implements Standard Schema. */
export function isStandardSchema(value: unknown): value is StandardSchema {
  return typeof value === 'object' && value !== null && '~standard' in value;
}

function toIssues(result: Extract<StandardResult<unknown>, { issues: object }>): ValidationIssue[] {
  return result.issues.map((issue) => ({
    message: issue.message,
    path: issue.path?.map((p) => (typeof p === 'object' && p !== null ? p.key : p)),
  }));
}

/**
 * Validates synchronously; throws ValidationError naming the message and every issue. A schema
 * that throws is a DecodeError (the same bytes would make it throw again: retrying cannot help).
 */
export function validateSync<O>(schema: StandardSchema<unknown, O>, value: unknown, at: MessageLocation): O {
  const vendor = schema['~standard'].vendor;
  let result: unknown;
  try {
    result = schema['~standard'].validate(value);
  } catch (error) {
    throw schemaThrew(vendor, at, error);
  }
  // Any thenable, not only this realm's Promise (a schema built in a vm context or another copy of
  // a polyfill): read as a result, it has no issues and no value, and would pass as undefined.
  if (typeof (result as { then?: unknown } | null)?.then === 'function') {
    // Refused unawaited: a rejection nobody handles would crash the process.
    (result as PromiseLike<unknown>).then(undefined, () => {});
    throw new ConfigError(
      `the ${vendor} schema for "${at.topic}" validates asynchronously; codecs need a synchronous schema (use the validate() middleware for async ones)`,
    );
  }
  if (typeof result !== 'object' || result === null) {
    throw notAResult(vendor, at, result);
  }
  const sync = result as StandardResult<O>;
  if (sync.issues) throw new ValidationError(at, toIssues(sync));
  return sync.value;
}

/**
 * Validates, awaiting async schemas; throws ValidationError naming the message and every issue.
 * A schema that throws or rejects is a DecodeError, as in `validateSync`: the same payload would
 * make it fail again, so it is dead-lettered rather than retried.
 */
export async function validateAsync<O>(schema: StandardSchema<unknown, O>, value: unknown, at: MessageLocation): Promise<O> {
  const vendor = schema['~standard'].vendor;
  let result: unknown;
  try {
    result = await schema['~standard'].validate(value);
  } catch (error) {
    throw schemaThrew(vendor, at, error);
  }
  if (typeof result !== 'object' || result === null) {
    throw notAResult(vendor, at, result);
  }
  const settled = result as StandardResult<O>;
  if (settled.issues) throw new ValidationError(at, toIssues(settled));
  return settled.value;
}

/** A schema that threw (or rejected): the same payload would make it fail again. */
function schemaThrew(vendor: string, at: MessageLocation, error: unknown): DecodeError {
  return new DecodeError(at, `the ${vendor} schema threw instead of reporting issues: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

/** A schema whose validate() gave something other than a Standard Schema result. */
function notAResult(vendor: string, at: MessageLocation, result: unknown): ConfigError {
  return new ConfigError(
    `the ${vendor} schema for "${at.topic}" returned ${result === null ? 'null' : typeof result} from validate(), not a Standard Schema result ({ value } or { issues }); check that it implements Standard Schema v1`,
  );
}

/**
 * The parts of protobufjs reflection (`root.lookupType(...)`) the protobuf codec's checks read,
 * typed here so that protobufjs stays an optional peer dependency.
 */

/** An enum: its names and numbers. */
export interface EnumShape {
  readonly values: Readonly<Record<string, number>>;
}

/** A field of a message type. */
export interface FieldShape {
  readonly name: string;
  /** The field number on the wire. */
  readonly id: number;
  readonly type: string;
  readonly repeated?: boolean;
  readonly map?: boolean;
  /** A map's key type (`string`, `int32`…). */
  readonly keyType?: string;
  /** A message field sent as a group (start/end-group tags) rather than length-delimited. */
  readonly delimited?: boolean;
  /** The message or enum type of the field, once protobufjs linked it (`resolveAll()`). */
  readonly resolvedType?: MessageShape | EnumShape | null;
}

/** A message type. */
export interface MessageShape {
  readonly fieldsArray: readonly FieldShape[];
  resolveAll?(): unknown;
}

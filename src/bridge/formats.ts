import { resolve } from 'node:path';
import type { Codec } from '../core/codec.ts';
import { json } from '../codecs/json.ts';
import { protobuf, type ProtobufType } from '../codecs/protobuf.ts';
import { raw, text } from '../codecs/raw.ts';
import type { FormatSpec, SchemaSpec } from './config-schema.ts';
import { formatPath } from './path.ts';

/** Protobuf message types by schema name, as declared under `schemas`. */
export type SchemaTypes = ReadonlyMap<string, ProtobufType<unknown>>;

/**
 * Loads the protobuf types a config declares (`schemas: { order: { proto: ./order.proto, type:
 * shop.OrderPlaced } }`), with protobufjs (an optional peer dependency, imported only when a
 * config declares a schema). Files are relative to `baseDir`. Every problem is returned with its path.
 *
 * @example
 * ```ts
 * const { types, problems } = await loadSchemas({ order: { proto: 'order.proto', type: 'shop.Order' } }, process.cwd());
 * ```
 */
export async function loadSchemas(schemas: Readonly<Record<string, SchemaSpec>>, baseDir: string): Promise<{ types: SchemaTypes; problems: string[] }> {
  const types = new Map<string, ProtobufType<unknown>>();
  const problems: string[] = [];
  const entries = Object.entries(schemas);
  if (entries.length === 0) return { types, problems };
  let protobufjs: typeof import('protobufjs');
  try {
    protobufjs = (await import('protobufjs')).default;
  } catch (error) {
    return { types, problems: [`schemas: protobuf schemas need the "protobufjs" package (npm install protobufjs): ${(error as Error).message}`] };
  }
  for (const [name, spec] of entries) {
    const at = formatPath(['schemas', name]);
    let root: import('protobufjs').Root;
    try {
      root = await protobufjs.load(resolve(baseDir, spec.proto));
    } catch (error) {
      problems.push(`${at}.proto: cannot load "${spec.proto}": ${(error as Error).message}`);
      continue;
    }
    try {
      types.set(name, root.lookupType(spec.type) as unknown as ProtobufType<unknown>);
    } catch {
      problems.push(`${at}.type: "${spec.proto}" has no message type "${spec.type}" (give its full name, package included: "shop.OrderPlaced")`);
    }
  }
  return { types, problems };
}

/**
 * The codec a format names. `undefined` (no format given) reads bytes as they are.
 *
 * @example
 * ```ts
 * const codec = formatCodec({ protobuf: 'order' }, types); // types from loadSchemas()
 * ```
 */
export function formatCodec(spec: FormatSpec | undefined, types: SchemaTypes): Codec<unknown> {
  if (spec === undefined || spec === 'raw') return raw() as Codec<unknown>;
  if (spec === 'json') return json();
  if (spec === 'text') return text() as Codec<unknown>;
  const type = types.get(spec.protobuf);
  // validateBridgeConfig and loadSchemas have checked the name; this is a programming error.
  if (!type) throw new Error(`schema "${spec.protobuf}" was not loaded`);
  return protobuf<unknown>(type);
}

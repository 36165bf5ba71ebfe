import { resolve } from 'node:path';
import { isConfigError } from '../core/errors.ts';
import type { Transport } from '../core/transport.ts';
import type { TransportSpec } from './config-schema.ts';
import { formatPath } from './path.ts';
import { isTransportInstance } from './validate-config.ts';

/** The transports of a bridge by name, and which of them the bridge made (and so closes). */
export interface CreatedTransports {
  byName: Map<string, Transport>;
  owned: Set<Transport>;
  problems: string[];
}

/**
 * Builds each declared transport with its factory, importing the transport's module only when
 * the config uses it (so a bridge between NATS and the embedded broker never loads a Kafka client).
 * Factories check their options when called and connect nothing; their problems come back with
 * the transport's path. Ready transport objects (given in code) are used as they are. A relative
 * embedded `dir` is resolved from `baseDir` (the config file's directory).
 *
 * @example
 * ```ts
 * const { byName, problems } = await createTransports({ local: { type: 'embedded', dir: './data' } });
 * ```
 */
export async function createTransports(specs: Readonly<Record<string, TransportSpec | Transport>>, baseDir = process.cwd()): Promise<CreatedTransports> {
  const byName = new Map<string, Transport>();
  const owned = new Set<Transport>();
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(specs)) {
    if (isTransportInstance(spec)) {
      byName.set(name, spec);
      continue;
    }
    try {
      const transport = await construct(spec, baseDir);
      byName.set(name, transport);
      owned.add(transport);
    } catch (error) {
      const at = formatPath(['transports', name]);
      if (isConfigError(error)) problems.push(...error.problems.map((p) => `${at}: ${p}`));
      else problems.push(`${at}: cannot create the ${spec.type} transport: ${(error as Error).message}`);
    }
  }
  return { byName, owned, problems };
}

async function construct(spec: TransportSpec, baseDir: string): Promise<Transport> {
  // The `type` key is ours; each factory gets exactly its own options.
  const { type, ...options } = spec;
  // A data directory in a config file is relative to the file, like its modules and schemas.
  if (type === 'embedded') (options as { dir: string }).dir = resolve(baseDir, (options as { dir: string }).dir);
  switch (type) {
    case 'memory':
      return (await import('../transports/memory/index.ts')).memory(options as never);
    case 'embedded':
      return (await import('../transports/embedded/index.ts')).embedded(options as never);
    case 'kafka':
      return (await import('../transports/kafka/index.ts')).kafka(options as never);
    case 'rabbitmq':
      return (await import('../transports/rabbitmq/index.ts')).rabbitmq(options as never);
    case 'nats':
      return (await import('../transports/nats/index.ts')).nats(options as never);
  }
}

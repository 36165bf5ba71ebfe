import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { CONTENT_TYPE_HEADER } from '../../core/codec.ts';
import { ConfigError } from '../../core/errors.ts';
import type { Message } from '../../core/message.ts';
import { embedded } from '../../transports/embedded/index.ts';

/** The payload as text: decoded when the content type is known, hex otherwise. */
export function describePayload(message: Pick<Message, 'payload' | 'headers'>): string {
  const type = (message.headers[CONTENT_TYPE_HEADER] ?? '').toLowerCase();
  const bytes = Buffer.from(message.payload.buffer, message.payload.byteOffset, message.payload.byteLength);
  if (type.startsWith('application/json') || type.endsWith('+json')) {
    try {
      return JSON.stringify(JSON.parse(bytes.toString('utf8')));
    } catch {
      return `(invalid JSON) ${bytes.toString('utf8')}`;
    }
  }
  if (type.startsWith('text/')) return bytes.toString('utf8');
  const shown = bytes.subarray(0, 64).toString('hex');
  return `${type || 'bytes'} (${bytes.length} B) ${shown}${bytes.length > 64 ? '…' : ''}`;
}

/**
 * `switchyard tail TOPIC --dir DIR`: prints messages of an embedded broker as they arrive,
 * through the owner's socket when another process owns the directory. Without `--group` it
 * reads as a throwaway group of its own, so it never takes messages from a real group.
 */
export function registerTail(program: Command): void {
  program
    .command('tail')
    .description('print the messages of a topic (or pattern, e.g. "orders.>") of an embedded broker as they arrive')
    .argument('<topic>', 'topic or pattern')
    .requiredOption('-d, --dir <dir>', 'the embedded data directory')
    .option('--from <where>', 'earliest or latest (for a group that has not consumed yet)', 'latest')
    .option('-g, --group <group>', 'consume as this group (commits its position); default: a throwaway group')
    .option('-n, --limit <n>', 'exit after this many messages', (v) => Number.parseInt(v, 10))
    .option('--headers', 'print the headers too')
    .action(async (topic: string, opts: { dir: string; from: string; group?: string; limit?: number; headers?: boolean }) => {
      if (opts.from !== 'earliest' && opts.from !== 'latest') throw new ConfigError(`--from must be earliest or latest, got "${opts.from}"`);
      if (opts.limit !== undefined && !(opts.limit > 0)) throw new ConfigError('--limit must be a whole number ≥ 1');
      const bus = embedded({ dir: opts.dir });
      const group = opts.group ?? `tail-${process.pid}-${randomBytes(3).toString('hex')}`;
      let seen = 0;
      let stop!: () => void;
      const stopped = new Promise<void>((resolve) => (stop = resolve));
      const sub = await bus.subscribe(topic, { group, from: opts.from }, async (m) => {
        if (opts.limit !== undefined && seen >= opts.limit) return;
        seen++;
        const when = new Date(m.timestamp).toISOString();
        const key = m.key === '' ? '' : ` key=${m.key}`;
        const headers = opts.headers ? ` headers=${JSON.stringify(m.headers)}` : '';
        process.stdout.write(`${when} ${m.topic} ${m.partition}@${m.offset}${key} id=${m.id}${headers} ${describePayload(m)}\n`);
        if (opts.limit !== undefined && seen >= opts.limit) stop();
      });
      console.error(`tailing ${topic} in ${opts.dir} as group ${group} (${bus.role}); Ctrl-C to stop`);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await stopped;
      await sub.close();
      if (!opts.group) await bus.deleteGroup(group); // a throwaway group leaves no trace (and no lag)
      await bus.close();
    });
}

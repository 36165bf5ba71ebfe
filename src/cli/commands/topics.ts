import type { Command } from 'commander';
import { embedded } from '../../transports/embedded/index.ts';

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/**
 * `switchyard topics --dir DIR`: the topics of an embedded data directory with their
 * partitions, sizes, offsets, and each consumer group's lag. Goes through the owner's socket
 * when a process owns the directory, or opens it directly.
 */
export function registerTopics(program: Command): void {
  program
    .command('topics')
    .description('list the topics of an embedded broker: partitions, sizes, end offsets, groups and their lag')
    .requiredOption('-d, --dir <dir>', 'the embedded data directory')
    .option('--json', 'print JSON instead of a table')
    .action(async (opts: { dir: string; json?: boolean }) => {
      const bus = embedded({ dir: opts.dir });
      try {
        const topics = await bus.inspect();
        if (opts.json) {
          console.log(JSON.stringify(topics, null, 2));
          return;
        }
        if (topics.length === 0) {
          console.log(`no topics in ${opts.dir}`);
          return;
        }
        for (const t of topics) {
          const bytes = t.partitions.reduce((n, p) => n + p.bytes, 0);
          const end = t.partitions.reduce((n, p) => n + p.endOffset, 0);
          console.log(`${t.topic}  partitions=${t.partitions.length}  size=${formatBytes(bytes)}  messages=${end}${t.compact ? '  compacted' : ''}`);
          for (const p of t.partitions) {
            console.log(`  partition ${p.partition}: offsets ${p.startOffset}..${p.endOffset}  ${formatBytes(p.bytes)} in ${p.segments} segment(s)`);
          }
          for (const g of t.groups) {
            const parts = g.partitions.map((p) => `${p.partition}@${p.committed}`).join(' ');
            console.log(`  group ${g.group}: lag ${g.lag}  (committed ${parts})`);
          }
        }
      } finally {
        await bus.close();
      }
    });
}

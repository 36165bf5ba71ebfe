import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { testBrokers, usingMock } from '../../transports/kafka/test-cluster.ts';
import { defaultAmqpUrl } from '../../transports/rabbitmq/index.ts';
import type { BacklogResult } from '../backlog-child.ts';
import { natsUrl } from '../brokers.ts';
import { requireService } from '../reachable.ts';
import { SkipScenario, type BenchCase, type Sample, type Scenario } from '../types.ts';

/** Growth of the peak RSS over the baseline that still counts as bounded. */
const BOUND_MIB = 256;
/** Growth of the live heap (after a full GC) that means nothing of the backlog is held in the process. */
const LIVE_BOUND_MIB = 32;
const SIZE = 64;

/** A backlog-child.ts process (or .js from dist/), its JSON lines on stdout one by one. */
function spawnChild(args: string[]): { lines: AsyncIterator<Record<string, unknown>>; child: ChildProcess; exited: Promise<void> } {
  const script = fileURLToPath(new URL(`../backlog-child.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, '--expose-gc', script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const printed: string[] = [];
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`backlog-child ${args.join(' ')} exited with code ${code}: ${printed.join(' ').trim() || 'no output'}`))));
  });
  exited.catch(() => undefined); // read through `lines` or awaited by the caller
  const lines = (async function* () {
    for await (const line of createInterface({ input: child.stdout! })) {
      printed.push(line);
      if (line.startsWith('{')) yield JSON.parse(line) as Record<string, unknown>;
    }
    await exited; // no more lines: report why
  })();
  return { lines, child, exited };
}

/** Next JSON line of a child; rejects with the child's exit when it ends first. */
async function nextLine(lines: AsyncIterator<Record<string, unknown>>): Promise<Record<string, unknown>> {
  const { value, done } = await lines.next();
  if (done) throw new Error('backlog-child ended without its result');
  return value;
}

/**
 * Runs the measured consumer process for one broker; where the broker is a server, the messages
 * come from a second process once the consumer is subscribed, so the consumer's figures hold only
 * what consuming costs.
 */
async function runChild(broker: string, count: number, drainMs: number): Promise<BacklogResult> {
  const consumer = spawnChild(['consume', broker, String(count), String(SIZE), String(drainMs)]);
  try {
    let line = await nextLine(consumer.lines);
    if (typeof line['ready'] === 'string') {
      const publisher = spawnChild(['publish', broker, line['ready'], String(count), String(SIZE)]);
      const { publishSeconds } = await nextLine(publisher.lines);
      await publisher.exited;
      consumer.child.stdin!.write(`published ${String(publishSeconds)}\n`);
      line = await nextLine(consumer.lines);
    }
    await consumer.exited;
    return line as unknown as BacklogResult;
  } finally {
    consumer.child.stdin!.end();
  }
}

/** A figure in MiB as a sample (the report shows ops ÷ seconds). */
const mib = (n: number): Sample => ({ ops: n, seconds: 1 });

const candidates: Array<{ broker: string; label: string; check?: () => Promise<void> }> = [
  { broker: 'embedded', label: 'embedded (fsync batch, in-process)' },
  { broker: 'nats', label: 'NATS JetStream (file)', check: () => requireService(natsUrl().split(',')[0]!, 4222, 'NATS') },
  { broker: 'rabbitmq', label: 'RabbitMQ (durable, confirms)', check: () => requireService(defaultAmqpUrl(), 5672, 'RabbitMQ') },
  { broker: 'kafka', label: usingMock() ? 'Kafka (librdkafka mock cluster)' : 'Kafka', check: () => requireService(testBrokers()[0]!, 9092, 'Kafka') },
];

/**
 * Peak memory of a process whose consumer falls far behind: a slow consumer (concurrency 1, 1 ms
 * per message) while 1,000,000 messages of 64 B (100,000 with --quick) are published, on each
 * durable transport; each in a fresh child process, with the publisher in a second one where the
 * broker is a server (the embedded broker lives in the consumer's process, so it publishes there).
 * Two figures from one run: the peak RSS growth over the RSS just before publishing, and the live
 * heap growth after a full GC with the consumer still attached. Both should stay bounded: the
 * backlog lives in the broker, not in the consumer's process. The memory transport is left out:
 * its backlog is in the process by design.
 */
export const backlogScenario: Scenario = {
  name: 'backlog',
  title: 'Memory: peak RSS of a process with a slow consumer under a large backlog, per transport',
  async cases(ctx) {
    const count = ctx.quick ? 100_000 : 1_000_000;
    const drainMs = ctx.quick ? 1_000 : 3_000;
    const cases: BenchCase[] = [];
    for (const c of candidates) {
      try {
        await c.check?.();
      } catch (error) {
        if (!(error instanceof SkipScenario)) throw error;
        ctx.skip(error.message);
        continue;
      }
      // One child run gives both rows: the first row's run starts it, the second reads the same result.
      let result: Promise<BacklogResult> | undefined;
      const measured = (): Promise<BacklogResult> =>
        (result ??= runChild(c.broker, count, drainMs).then((r) => {
          ctx.log(
            `  ${c.broker}: published ${r.published} in ${r.publishSeconds.toFixed(1)} s (${Math.round(r.published / r.publishSeconds)} msgs/s, ${r.separatePublisher ? 'from another process' : 'in-process'}), ` +
              `slow consumer read ${r.consumed}; RSS ${r.baselineMiB.toFixed(0)} → peak ${r.peakMiB.toFixed(0)} MiB (${r.samples} samples); ` +
              `live heap after GC ${r.liveBeforeMiB.toFixed(1)} → ${r.liveAfterMiB.toFixed(1)} MiB`,
          );
          return r;
        }));
      const what = `${c.label}, ${count.toLocaleString('en-US')} × ${SIZE} B backlog, slow consumer`;
      const once = { rounds: 1, warmup: false } as const;
      cases.push({
        ...once,
        name: `${what}: peak RSS growth`,
        unit: 'MiB',
        ceiling: { max: BOUND_MIB, label: `bounded: ≤ ${BOUND_MIB} MiB` },
        ours: { name: c.broker, run: async (): Promise<Sample> => mib((await measured()).peakMiB - (await measured()).baselineMiB) },
      });
      cases.push({
        ...once,
        name: `${what}: live heap growth after GC`,
        unit: 'MiB',
        ceiling: { max: LIVE_BOUND_MIB, label: `≤ ${LIVE_BOUND_MIB} MiB` },
        ours: { name: c.broker, run: async (): Promise<Sample> => mib((await measured()).liveAfterMiB - (await measured()).liveBeforeMiB) },
      });
    }
    if (cases.length === 0) throw new SkipScenario('no transport to measure');
    return cases;
  },
};

import { randomBytes } from 'node:crypto';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type MsgHdrs } from '@nats-io/transport-node';
import { newMessageId } from '../../core/id.ts';
import { nats, type NatsTransport } from '../../transports/nats/index.ts';
import { dropStream } from '../cleanup.ts';
import { requireService } from '../reachable.ts';
import { timed } from '../stats.ts';
import type { BenchCase, Sample, Scenario } from '../types.ts';
import { fixedRateLatency, publishAndConsume, transportLatency, type FixedRateOptions } from '../workloads.ts';

const BATCH = 1_000;
/** JetStream publish acks outstanding at once, the same window for both sides. */
const WINDOW = 256;
let run = 0;

/**
 * The raw client end to end. `identified`: each message carries what the adapter's carry — a
 * message id and a publish time, as headers — and the consumer reads the id, as an application
 * that deduplicates must; otherwise bare payloads.
 */
async function rawCore(servers: string, count: number, payload: Uint8Array, identified: boolean): Promise<Sample> {
  const nc = await connect({ servers });
  const subject = `sybench.core.${process.pid}.${++run}`;
  let received = 0;
  const { promise: done, resolve } = Promise.withResolvers<void>();
  nc.subscribe(subject, {
    queue: 'bench',
    callback: (_error, m) => {
      if (identified && !m.headers?.get('Nats-Msg-Id')) throw new Error('a message without its id');
      if (++received === count) resolve();
    },
  });
  await nc.flush();
  const options = (): { headers: MsgHdrs } | undefined => {
    if (!identified) return undefined;
    const h = headers();
    h.set('Nats-Msg-Id', `${subject}:${newMessageId()}`);
    h.set('Sy-Time', String(Date.now()));
    return { headers: h };
  };
  try {
    return await timed(async () => {
      for (let i = 0; i < count; i++) {
        nc.publish(subject, payload, options());
        if (i % BATCH === BATCH - 1) await nc.flush();
      }
      await done;
      return count;
    });
  } finally {
    await nc.close();
  }
}

/** The raw JetStream client: acked publishes (with a message id and time, as the adapter's), a durable pull consumer acking each. */
async function rawJetStream(servers: string, count: number, payload: Uint8Array): Promise<Sample> {
  const nc = await connect({ servers });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const name = `SYBENCH_${process.pid}_${++run}`;
  const subject = `sybench${process.pid}x${run}.raw`;
  await jsm.streams.add({ name, subjects: [`sybench${process.pid}x${run}.>`] });
  await jsm.consumers.add(name, { durable_name: 'bench', ack_policy: AckPolicy.Explicit, filter_subject: subject });
  // Consuming starts before the clock, as the adapter's subscribe() does.
  const consumer = await js.consumers.get(name, 'bench');
  const messages = await consumer.consume({ max_messages: 1_000 });
  try {
    return await timed(async () => {
      const consumed = (async () => {
        let received = 0;
        for await (const m of messages) {
          m.ack();
          if (++received === count) break;
        }
      })();
      const inFlight = new Set<Promise<unknown>>();
      for (let i = 0; i < count; i++) {
        // What the adapter's messages carry: an id the stream deduplicates on, and a publish time.
        const h = headers();
        h.set('Sy-Time', String(Date.now()));
        const p = js.publish(subject, payload, { msgID: `${subject}:${newMessageId()}`, headers: h }).finally(() => inFlight.delete(p));
        inFlight.add(p);
        if (inFlight.size >= WINDOW) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      await consumed;
      return count;
    });
  } finally {
    await messages.close();
    await jsm.streams.delete(name);
    await nc.close();
  }
}

/** The raw clients at a fixed rate: core publish + flush to a queue subscription, or acked JetStream publishes to a durable pull consumer. */
function rawLatency(servers: string, mode: 'core' | 'jetstream', fixed: FixedRateOptions): Promise<Sample> {
  return fixedRateLatency(async (received) => {
    const nc = await connect({ servers });
    const prefix = `sybench${process.pid}x${++run}`;
    const subject = `${prefix}.raw`;
    if (mode === 'core') {
      nc.subscribe(subject, { queue: 'bench', callback: (_, m) => received(m.data) });
      await nc.flush();
      return {
        send: async (payloads) => {
          for (const p of payloads) nc.publish(subject, p);
          await nc.flush();
        },
        close: () => nc.close(),
      };
    }
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const name = `SYBENCH_${process.pid}_${run}`;
    await jsm.streams.add({ name, subjects: [`${prefix}.>`] });
    await jsm.consumers.add(name, { durable_name: 'bench', ack_policy: AckPolicy.Explicit, filter_subject: subject });
    const messages = await (await js.consumers.get(name, 'bench')).consume({ max_messages: 1_000 });
    const consumed = (async () => {
      for await (const m of messages) {
        received(m.data);
        m.ack();
      }
    })();
    return {
      send: async (payloads) => void (await Promise.all(payloads.map((p) => js.publish(subject, p)))),
      close: async () => {
        await messages.close();
        await consumed;
        await jsm.streams.delete(name);
        await nc.close();
      },
    };
  }, fixed);
}

/** Runs `work` on an adapter connected for this run, then deletes the JetStream stream its topics made (`SY_<prefix>`). */
async function adapter<T>(servers: string, mode: 'core' | 'jetstream', work: (bus: NatsTransport, prefix: string) => Promise<T>): Promise<T> {
  const bus = nats({ servers, mode });
  await bus.connect();
  const prefix = `sybench${process.pid}y${++run}`;
  try {
    return await work(bus, prefix);
  } finally {
    if (mode === 'jetstream') await dropStream(bus, `SY_${prefix}`);
    await bus.close();
  }
}

function adapterThroughput(servers: string, mode: 'core' | 'jetstream', count: number, payload: Uint8Array): Promise<Sample> {
  return adapter(servers, mode, (bus, prefix) => publishAndConsume(bus, `${prefix}.switchyard`, count, payload, 64, BATCH));
}

function adapterLatency(servers: string, mode: 'core' | 'jetstream', fixed: FixedRateOptions): Promise<Sample> {
  return adapter(servers, mode, (bus, prefix) => transportLatency(bus, `${prefix}.latency`, fixed));
}

/** The NATS adapter against the official client alone, core and JetStream, 256 B. */
export const natsScenario: Scenario = {
  name: 'nats',
  title: 'NATS: adapter vs @nats-io client, core and JetStream (durable pull consumer), 256 B',
  async cases(ctx) {
    const servers = process.env['SWITCHYARD_NATS_URL'] ?? 'nats://127.0.0.1:4222';
    await requireService(servers.split(',')[0]!, 4222, 'NATS');
    const payload = randomBytes(256);
    const target = { ratio: 0.9, label: '≥ 0.9× raw client' };
    const core = ctx.quick ? 20_000 : 200_000;
    const js = ctx.quick ? 5_000 : 50_000;
    const cases: BenchCase[] = [
      {
        name: 'core: publish and consume end to end, raw messages carrying an id and a time too',
        unit: 'msgs/s',
        ours: { name: 'switchyard', run: () => adapterThroughput(servers, 'core', core, payload) },
        baseline: { name: '@nats-io/transport-node', run: () => rawCore(servers, core, payload, true) },
        target,
      },
      {
        name: 'core: publish and consume end to end, raw messages bare (no headers)',
        unit: 'msgs/s',
        ours: { name: 'switchyard', run: () => adapterThroughput(servers, 'core', core, payload) },
        baseline: { name: '@nats-io/transport-node', run: () => rawCore(servers, core, payload, false) },
        note: 'informative: what carrying id, key and time costs on core NATS',
      },
      {
        name: 'JetStream: publish (acked) and consume end to end',
        unit: 'msgs/s',
        ours: { name: 'switchyard', run: () => adapterThroughput(servers, 'jetstream', js, payload) },
        baseline: { name: '@nats-io/jetstream', run: () => rawJetStream(servers, js, payload) },
        target,
      },
    ];
    const fixed: FixedRateOptions = { rate: 2_000, seconds: ctx.quick ? 1 : 5, size: 256 };
    for (const mode of ['core', 'jetstream'] as const) {
      cases.push({
        name: `${mode === 'core' ? 'core' : 'JetStream'}: end to end at ${fixed.rate.toLocaleString('en-US')} msgs/s`,
        unit: 'msgs/s',
        ratioOf: 'p99',
        ours: { name: 'switchyard', run: () => adapterLatency(servers, mode, fixed) },
        baseline: { name: mode === 'core' ? '@nats-io/transport-node' : '@nats-io/jetstream', run: () => rawLatency(servers, mode, fixed) },
      });
    }
    return cases;
  },
};

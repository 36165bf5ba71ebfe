import { randomBytes } from 'node:crypto';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { nats } from '../../transports/nats/index.ts';
import { requireService } from '../reachable.ts';
import { timed } from '../stats.ts';
import type { BenchCase, Sample, Scenario } from '../types.ts';
import { publishAndConsume } from '../workloads.ts';

const BATCH = 1_000;
/** JetStream publish acks outstanding at once, the same window for both sides. */
const WINDOW = 256;
let run = 0;

async function rawCore(servers: string, count: number, payload: Uint8Array): Promise<Sample> {
  const nc = await connect({ servers });
  const subject = `sybench.core.${process.pid}.${++run}`;
  let received = 0;
  const { promise: done, resolve } = Promise.withResolvers<void>();
  nc.subscribe(subject, {
    queue: 'bench',
    callback: () => {
      if (++received === count) resolve();
    },
  });
  await nc.flush();
  try {
    return await timed(async () => {
      for (let i = 0; i < count; i++) {
        nc.publish(subject, payload);
        if (i % BATCH === BATCH - 1) await nc.flush();
      }
      await done;
      return count;
    });
  } finally {
    await nc.close();
  }
}

async function rawJetStream(servers: string, count: number, payload: Uint8Array): Promise<Sample> {
  const nc = await connect({ servers });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const name = `SYBENCH_${process.pid}_${++run}`;
  const subject = `sybench${process.pid}x${run}.raw`;
  await jsm.streams.add({ name, subjects: [`sybench${process.pid}x${run}.>`] });
  await jsm.consumers.add(name, { durable_name: 'bench', ack_policy: AckPolicy.Explicit, filter_subject: subject });
  try {
    return await timed(async () => {
      const consumer = await js.consumers.get(name, 'bench');
      const messages = await consumer.consume({ max_messages: 1_000 });
      const consumed = (async () => {
        let received = 0;
        for await (const m of messages) {
          m.ack();
          if (++received === count) break;
        }
      })();
      const inFlight = new Set<Promise<unknown>>();
      for (let i = 0; i < count; i++) {
        const p = js.publish(subject, payload).finally(() => inFlight.delete(p));
        inFlight.add(p);
        if (inFlight.size >= WINDOW) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      await consumed;
      await messages.close();
      return count;
    });
  } finally {
    await jsm.streams.delete(name);
    await nc.close();
  }
}

async function adapter(servers: string, mode: 'core' | 'jetstream', count: number, payload: Uint8Array): Promise<Sample> {
  const bus = nats({ servers, mode });
  await bus.connect();
  try {
    return await publishAndConsume(bus, `sybench${process.pid}y${++run}.switchyard`, count, payload, 64, BATCH);
  } finally {
    await bus.close();
  }
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
        name: 'core: publish and consume end to end',
        unit: 'msgs/s',
        ours: { name: 'switchyard', run: () => adapter(servers, 'core', core, payload) },
        baseline: { name: '@nats-io/transport-node', run: () => rawCore(servers, core, payload) },
        target,
      },
      {
        name: 'JetStream: publish (acked) and consume end to end',
        unit: 'msgs/s',
        ours: { name: 'switchyard', run: () => adapter(servers, 'jetstream', js, payload) },
        baseline: { name: '@nats-io/jetstream', run: () => rawJetStream(servers, js, payload) },
        target,
      },
    ];
    return cases;
  },
};

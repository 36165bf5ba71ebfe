import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Test helpers for the Kafka test cluster — librdkafka's mock cluster (NOT Apache Kafka), see
 * docs/kafka-test-cluster.md. Not part of the public API.
 */

/** Where scripts/services.sh builds and runs the mock: shared by every checkout on this machine. */
const mockDir = process.env['KAFKA_MOCK_DIR'] ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'switchyard', 'kafka-mock');
const brokersFile = join(mockDir, 'brokers');

/** Bootstrap list: SWITCHYARD_KAFKA_BROKERS, else `~/.cache/switchyard/kafka-mock/brokers`, else 127.0.0.1:39092. */
export function testBrokers(): string[] {
  const env = process.env['SWITCHYARD_KAFKA_BROKERS'];
  if (env) return env.split(',').map((b) => b.trim()).filter(Boolean);
  if (existsSync(brokersFile)) {
    const text = readFileSync(brokersFile, 'utf8').trim();
    if (text) return text.split(',');
  }
  return ['127.0.0.1:39092'];
}

/** True when the tests run against the mock (its control port is usable). */
export function usingMock(): boolean {
  return !process.env['SWITCHYARD_KAFKA_BROKERS'];
}

/** Sends one control command to a mock cluster's TCP control port and returns the reply line. */
export function mockControl(command: string, port = 39090): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const lines = createInterface({ input: socket });
    socket.on('error', reject);
    lines.once('line', (line) => {
      socket.end();
      if (line.startsWith('ok')) resolve(line);
      else reject(new Error(`mock control "${command}": ${line}`));
    });
    socket.write(`${command}\n`);
  });
}

/** A private mock cluster with random ports, controlled over its stdin, for fault tests. */
export interface OwnCluster {
  brokers: string[];
  control(command: string): Promise<string>;
  stop(): Promise<void>;
}

/** Starts `~/.cache/switchyard/kafka-mock/bin/kafka-mock` with random ports (stdin control). */
export function startOwnCluster(args: string[] = []): Promise<OwnCluster> {
  const bin = join(mockDir, 'bin', 'kafka-mock');
  const child: ChildProcess = spawn(bin, ['--port-base', '0', '--control-port', '0', '--exit-on-stdin-eof', ...args], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const lines = createInterface({ input: child.stdout! });
  const replies: Array<(line: string) => void> = [];
  let chain: Promise<unknown> = Promise.resolve();
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`kafka-mock exited with ${code}`)));
    lines.on('line', (line) => {
      if (line.startsWith('bootstrap ')) {
        const brokers = line.slice('bootstrap '.length).trim().split(',');
        resolve({
          brokers,
          control(command) {
            const reply = chain.then(
              () =>
                new Promise<string>((res, rej) => {
                  replies.push((l) => (l.startsWith('ok') ? res(l) : rej(new Error(`mock control "${command}": ${l}`))));
                  child.stdin!.write(`${command}\n`);
                }),
            );
            chain = reply.catch(() => undefined);
            return reply;
          },
          stop: () =>
            new Promise<void>((res) => {
              if (child.exitCode !== null) return res();
              child.once('exit', () => res());
              child.stdin!.end();
              setTimeout(() => child.kill('SIGKILL'), 3_000).unref();
            }),
        });
        return;
      }
      replies.shift()?.(line);
    });
  });
}

let counter = 0;

/** A topic name unique to this run (reruns against the shared cluster never see old messages). */
export function uniqueTopic(slug: string): string {
  return `sy-kafka.${slug}.${Date.now().toString(36)}${process.pid.toString(36)}${++counter}`;
}

/** Client settings that keep the mock quick: short fetch wait, quick heartbeats. */
export const quickConsumer = { maxWaitMs: 100, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 500, rebalanceTimeoutMs: 20_000 } as const;

// Before the mixed profile connects anything, one quick look at whether each service it needs is
// there. Without it a missing RabbitMQ showed only after the transport's 15 s connect timeout, in
// silence, and a run with several services down named just the first that failed.
import { connect } from 'node:net';
import type { MixedConnections } from './mixed-profile.ts';

/** How long one probe waits for an answer; a service that gives none is left to its client's own timeout. */
const PROBE_TIMEOUT_MS = 2_000;

interface Service {
  name: string;
  /** The environment variable that points the demo elsewhere. */
  variable: string;
  /** Addresses as `host:port`; the service is there when any of them accepts a connection. */
  addresses: Array<{ host: string; port: number }>;
}

/**
 * Throws one error that names every service of `connections` refusing connections (or whose host
 * does not resolve), with what to do; resolves when none does. Only host and port are printed:
 * the URLs may hold passwords.
 */
export async function requireMixedServices(connections: MixedConnections): Promise<void> {
  const services: Service[] = [
    { name: 'Kafka', variable: 'SWITCHYARD_KAFKA_BROKERS', addresses: connections.kafkaBrokers.map((b) => address(b, 9092)) },
    { name: 'RabbitMQ', variable: 'SWITCHYARD_AMQP_URL', addresses: [address(connections.amqpUrl, connections.amqpUrl.startsWith('amqps:') ? 5671 : 5672)] },
    { name: 'NATS', variable: 'SWITCHYARD_NATS_URL', addresses: connections.natsUrl.split(',').map((url) => address(url, 4222)) },
    { name: 'PostgreSQL', variable: 'SWITCHYARD_PG_URL', addresses: [address(connections.postgresUrl, 5432)] },
  ];
  const problems = await Promise.all(services.map(async (service) => ({ service, problem: await unreachable(service) })));
  const missing = problems.filter((p) => p.problem !== undefined).map(({ service, problem }) => `${service.name} is not reachable (${service.variable}): ${problem}`);
  if (missing.length === 0) return;
  throw new Error(
    `the mixed profile needs Kafka, RabbitMQ, NATS and PostgreSQL (\`npm run services\` starts them on this machine, or set SWITCHYARD_KAFKA_BROKERS, SWITCHYARD_AMQP_URL, SWITCHYARD_NATS_URL, SWITCHYARD_PG_URL to yours); ${missing.join('; ')}`,
  );
}

/** `host:port` of a URL or a bare `host:port`; a malformed one is left for its client to explain. */
function address(location: string, defaultPort: number): { host: string; port: number } {
  try {
    const url = new URL(location.includes('://') ? location.trim() : `tcp://${location.trim()}`);
    return { host: url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1', port: Number(url.port || defaultPort) };
  } catch {
    return { host: '', port: defaultPort };
  }
}

/** Why none of the service's addresses accepts a connection, or undefined when one does (or it cannot tell yet). */
async function unreachable(service: Service): Promise<string | undefined> {
  const outcomes = await Promise.all(service.addresses.map(probe));
  if (outcomes.some((o) => o === undefined)) return undefined;
  return outcomes.join(', ');
}

/** undefined when host:port accepts a connection, does not answer in time, or is malformed; otherwise what went wrong. */
async function probe({ host, port }: { host: string; port: number }): Promise<string | undefined> {
  if (host === '') return undefined;
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (result: string | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done(undefined), PROBE_TIMEOUT_MS);
    socket.once('connect', () => done(undefined));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') done(`nothing listens on ${host}:${port}`);
      else if (error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') done(`host ${host} not found`);
      else done(`${host}:${port}: ${error.message}`);
    });
  });
}

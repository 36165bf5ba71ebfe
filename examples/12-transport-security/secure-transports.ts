// Transports over TLS with authentication, configured from the environment: credentials and
// certificates never live in code. test/security/*.int.test.ts build their transports with these
// functions against private TLS servers, so the configuration shown in docs/transport-security.md
// is the one that is tested.
import { readFileSync } from 'node:fs';
import { kafka } from 'switchyard/kafka';
import { nats, type NatsAuth } from 'switchyard/nats';
import { rabbitmq } from 'switchyard/rabbitmq';

type Env = Record<string, string | undefined>;

/** The value of a variable that must be set; says which one is missing, never what a value is. */
function required(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new Error(`set ${name}`);
  return value;
}

/** CA (and, for mutual TLS, client certificate and key) from PEM files named by the environment. */
function tlsFiles(env: Env) {
  return {
    ca: readFileSync(required(env, 'SWITCHYARD_TLS_CA_FILE'), 'utf8'), // the CA that signed the broker's certificate
    ...(env['SWITCHYARD_TLS_CERT_FILE'] && env['SWITCHYARD_TLS_KEY_FILE']
      ? { cert: readFileSync(env['SWITCHYARD_TLS_CERT_FILE'], 'utf8'), key: readFileSync(env['SWITCHYARD_TLS_KEY_FILE'], 'utf8') }
      : {}),
  };
}

// #region rabbitmq
export function secureRabbitmq(env: Env = process.env) {
  return rabbitmq({
    // amqps://app:<password>@mq.internal:5671/orders: the vhost is the URL's path. The password is
    // masked in every error and event (amqps://app:***@…).
    url: required(env, 'SWITCHYARD_AMQP_URL'),
    tls: tlsFiles(env), // chain and host name are verified; there is no silent way to turn that off
    maxPayloadBytes: 1024 * 1024, // publish() refuses larger payloads before sending anything
    maxHeaderBytes: 16 * 1024,
  });
}
// #endregion rabbitmq

// #region nats
export function secureNats(env: Env = process.env) {
  // One of: user + password, a token, or an nkey seed (SU…), whichever the server's authorization uses.
  const auth: NatsAuth = env['SWITCHYARD_NATS_NKEY_SEED']
    ? { nkeySeed: env['SWITCHYARD_NATS_NKEY_SEED'] }
    : env['SWITCHYARD_NATS_TOKEN']
      ? { token: env['SWITCHYARD_NATS_TOKEN'] }
      : { user: required(env, 'SWITCHYARD_NATS_USER'), pass: required(env, 'SWITCHYARD_NATS_PASSWORD') };
  return nats({
    servers: required(env, 'SWITCHYARD_NATS_URL'), // tls://nats.internal:4222
    tls: tlsFiles(env),
    auth,
    maxHeaderBytes: 16 * 1024, // payloads are capped by the server's max_payload, learnt on connect
  });
}
// #endregion nats

// #region kafka
export function secureKafka(env: Env = process.env) {
  const password = env['SWITCHYARD_KAFKA_PASSWORD'];
  return kafka({
    brokers: required(env, 'SWITCHYARD_KAFKA_BROKERS'), // kafka-1.internal:9093,kafka-2.internal:9093
    tls: tlsFiles(env),
    // SASL/SCRAM over TLS when the brokers ask for it (SASL_SSL listeners).
    ...(password
      ? { sasl: { mechanism: 'SCRAM-SHA-512' as const, username: required(env, 'SWITCHYARD_KAFKA_USERNAME'), password } }
      : {}),
    maxPayloadBytes: 1_000_000, // keep it at or below the brokers' message.max.bytes
    maxHeaderBytes: 16 * 1024,
  });
}
// #endregion kafka

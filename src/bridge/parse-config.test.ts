import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, PermanentError } from '../core/errors.ts';
import { parseBridgeConfig } from './parse-config.ts';
import { closest, editDistance } from './suggest.ts';
import { compileTemplate } from './template.ts';

const transports = `
transports:
  local: { type: embedded, dir: ./data }
  kafka: { type: kafka, brokers: ["127.0.0.1:9092"] }
`;

/** The problems of a config made of the two transports above and `routes`. */
function problems(routes: string, env: Record<string, string> = {}): string[] {
  const result = parseBridgeConfig(`${transports}\nroutes:\n${routes}`, { env });
  return result.ok ? [] : result.problems;
}

const route = (body: string): string => `  - name: r\n    from: { transport: local, topic: orders.placed }\n${body}`;

describe('parseBridgeConfig', () => {
  it('accepts a valid file, substituting ${ENV}, ${ENV:-default} and $${ in values and keys', () => {
    const result = parseBridgeConfig(
      `
transports:
  rabbit: { type: rabbitmq, url: "amqp://bridge:\${AMQP_PASSWORD}@\${AMQP_HOST:-127.0.0.1}:5672", connectionName: "bridge $\${literal}" }
  k: { type: kafka, brokers: "\${BROKERS}", topics: { "orders.\${ENV_NAME}": { partitions: 3 } } }
routes:
  - name: orders
    from: { transport: rabbit, topic: "orders.*", group: billing, concurrency: 4 }
    to: { transport: k, topic: "orders.{topic[-1]}", key: "{headers.customer}" }
    filter: { key: { prefix: c- }, headers: { x-tenant: acme }, json: { total: { gte: 10 }, "customer.tier": { in: [gold, silver] } } }
    retry: { attempts: 5, initialDelayMs: 100, maxDelayMs: 2000 }
    deadLetter: { topic: "dlq.{topic}" }
`,
      { env: { AMQP_PASSWORD: 's3cret!', BROKERS: '127.0.0.1:9092', ENV_NAME: 'prod' } },
    );
    if (!result.ok) throw new Error(result.problems.join('\n'));
    expect(result.config.transports['rabbit']).toEqual({ type: 'rabbitmq', url: 'amqp://bridge:s3cret!@127.0.0.1:5672', connectionName: 'bridge ${literal}' });
    expect(result.config.transports['k']).toMatchObject({ brokers: '127.0.0.1:9092', topics: { 'orders.prod': { partitions: 3 } } });
  });

  it('names an unknown transport with its path and the closest declared name', () => {
    const found = problems(`${route('    to: { transport: local, topic: a }')}\n  - name: s\n    from: { transport: local, topic: b }\n    to: { transport: local, topic: c }\n  - name: t\n    from: { transport: local, topic: d }\n    to: { transport: kafak, topic: e }`);
    expect(found).toEqual(['routes[2].to.transport: unknown transport "kafak" (did you mean "kafka"?); declared: local, kafka']);
  });

  it('reports every mistake at once, in file order, each with its path', () => {
    const result = parseBridgeConfig(`
transports:
  kafka: { type: kafka, brokres: ["127.0.0.1:9092"] }
  nats: { type: natss }
  local: { type: embedded }
routes:
  - name: a
    form: { transport: local, topic: x }
    to: { transport: kafka, topic: "orders.{kye}" }
  - name: a
    from: { transport: local, topic: "orders..x", concurrency: 0 }
    to: { transport: kafka, topic: out }
    filter: { key: { matches: "([" }, json: { total: { gte: "ten" } } }
    format: { out: { protobuf: ordr } }
`);
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems).toEqual([
      'transports.kafka.brokers: missing (required)',
      'transports.kafka: unknown option "brokres" (did you mean "brokers"?)',
      'transports.nats.type: unknown transport type "natss" (did you mean "nats"?); one of embedded, kafka, rabbitmq, nats, memory',
      'transports.local.dir: missing (required)',
      'routes[0].from: missing (required)',
      'routes[0]: unknown option "form" (did you mean "from"?)',
      'routes[0].to.topic: unknown placeholder "{kye}": use {topic}, {topic[N]} (the N-th dot-separated token, from 0; -1 is the last), {key}, {id} or {headers.NAME}',
      'routes[1].from.concurrency: must be ≥ 1, got 0',
      'routes[1].filter.json.total.gte: expected number, got "ten"',
      'routes[1].name: "a" is already the name of routes[0]; route names must be unique',
      expect.stringMatching(/^routes\[1\]\.from\.topic: pattern "orders\.\.x"/),
      'routes[1].format.out.protobuf: unknown schema "ordr"; declare it under "schemas"',
      expect.stringMatching(/^routes\[1\]\.filter\.key\.matches: not a valid regular expression/),
    ]);
  });

  it('refuses a route that would read its own output, and dead letters that land in the source', () => {
    expect(problems(`  - name: loop\n    from: { transport: kafka, topic: "orders.>" }\n    to: { transport: kafka, topic: "orders.{key}" }`)).toEqual([
      'routes[0].to.topic: "orders.{key}" on transport "kafka" is read by this route\'s own source "orders.>": every message would be bridged again, forever',
    ]);
    expect(problems(route('    to: { transport: kafka, topic: out }\n    deadLetter: { topic: orders.placed }'))).toEqual([
      'routes[0].deadLetter.topic: "orders.placed" is read by this route\'s own source "orders.placed": dead letters would be bridged again; pick a topic outside it',
    ]);
  });


  it('refuses routes that hand every message around a ring between them, unless a filter or transform can stop it', () => {
    const hop = (name: string, from: string, to: string, extra = ''): string => `  - name: ${name}\n    from: { transport: ${from} }\n    to: { transport: ${to} }\n${extra}`;
    expect(problems(hop('there', 'local, topic: orders.placed', 'kafka, topic: orders.placed') + hop('back', 'kafka, topic: orders.placed', 'local, topic: orders.placed'))).toEqual([
      'routes[0]: with routes[1] this route forms a loop: "there" (local:orders.placed → kafka:orders.placed), then "back" (kafka:orders.placed → local:orders.placed) brings every message back to where it started, to be bridged again, forever; send one of them elsewhere, or stop the echo with a filter (mark bridged messages with to.headers and filter out marked ones)',
    ]);
    // Through templates and patterns, over three routes.
    const ring = hop('a', 'local, topic: "orders.*"', 'kafka, topic: "audit.{topic[1]}"') + hop('b', 'kafka, topic: "audit.*"', 'local, topic: "archive.{headers.region}"') + hop('c', 'local, topic: "archive.*"', 'local, topic: "orders.{key}"');
    expect(problems(ring)).toEqual([expect.stringMatching(/^routes\[0\]: with routes\[1\] and routes\[2\] this route forms a loop: "a" .* then "b" .* then "c" /)]);
    // A filter (bidirectional replication that skips what it bridged itself) breaks the ring; so does a chain that ends.
    const marked = '    filter: { headers: { x-bridged: { exists: false } } }\n';
    expect(problems(hop('there', 'local, topic: orders.placed', 'kafka, topic: orders.placed') + hop('back', 'kafka, topic: orders.placed', 'local, topic: orders.placed', marked))).toEqual([]);
    expect(problems(hop('a', 'local, topic: "orders.*"', 'kafka, topic: "audit.{topic[1]}"') + hop('b', 'kafka, topic: "audit.*"', 'local, topic: "archive.{topic[1]}"'))).toEqual([]);
  });

  it('refuses two routes reading one topic in one group (competing consumers: each would get only part of the messages)', () => {
    const reader = (name: string, group: string, topic = 'orders.placed'): string =>
      `  - name: ${name}\n    from: { transport: kafka, topic: ${topic}${group ? `, group: ${group}` : ''} }\n    to: { transport: local, topic: ${name}.out }\n`;
    expect(problems(reader('a', 'mirror') + reader('b', 'mirror'))).toEqual([
      'routes[1].from.group: routes[0] reads "orders.placed" on transport "kafka" in the same group "mirror": the two routes would share its messages, each getting only part of them; give each route its own group (or leave group out: the default is bridge.<route name>)',
    ]);
    // A group named like another route's default group is the same group.
    expect(problems(reader('a', '') + reader('b', 'bridge.a'))).toHaveLength(1);
    // Distinct groups, or one group on different topics (separate queues, subscriptions), are fine.
    expect(problems(reader('a', '') + reader('b', ''))).toEqual([]);
    expect(problems(reader('a', 'mirror') + reader('b', 'mirror', 'orders.paid'))).toEqual([]);
  });
  it('reports unset environment variables by path and never shows values read from the environment', () => {
    const result = parseBridgeConfig(
      `transports:\n  r: { type: rabbitmq, url: "\${AMQP_URL}", prefetch: "\${PREFETCH}" }\n  k: { type: kafka, brokers: "\${BROKERS}" }\nroutes:\n  - name: x\n    from: { transport: r, topic: a }\n    to: { transport: k, topic: b }`,
      { env: { AMQP_URL: 'amqp://u:hunter22@host', PREFETCH: 'hunter22' } },
    );
    expect(result.ok ? [] : result.problems).toEqual(['transports.k.brokers: environment variable BROKERS is not set']);
    const typed = parseBridgeConfig(`transports:\n  r: { type: rabbitmq, prefetch: "\${PREFETCH}" }\nroutes:\n  - name: x\n    from: { transport: r, topic: a }\n    to: { transport: r, topic: b }`, {
      env: { PREFETCH: 'hunter22' },
    });
    expect(typed.ok ? [] : typed.problems).toEqual(['transports.r.prefetch: expected number, got "***"']);
  });

  it('reads environment values in templates as literal text, so braces in a token are neither placeholders nor quoted in an error', () => {
    const config = (env: Record<string, string>): ReturnType<typeof parseBridgeConfig> =>
      parseBridgeConfig(`${transports}\nroutes:\n${route('    to: { transport: kafka, topic: "orders.${TOPIC_TOKEN:-x}", key: "${KEY:-k}", headers: { authorization: "${TOKEN}" } }')}`, { env });
    for (const token of ['Bearer {abc"def}', 'Bearer {key}', 'Bearer abc}', 'Bearer {{abc}}', 'Bearer {']) {
      const result = config({ TOKEN: token, KEY: '{id}' });
      if (!result.ok) throw new Error(result.problems.join('\n'));
      const to = result.config.routes[0]!.to;
      const input = { topic: 'orders.placed', key: 'c1', id: 'm1', headers: {} };
      for (const [source, expected] of [[to.headers!['authorization']!, token], [to.key!, '{id}']] as const) {
        const template = compileTemplate(source);
        expect('render' in template ? template.render(input) : template.problems).toBe(expected);
      }
    }
    // A token that is no topic token is an error in a topic, and shows none of the secret.
    const inTopic = config({ TOKEN: 'Bearer x', TOPIC_TOKEN: 's3cr.et{x' });
    expect(inTopic.ok ? [] : inTopic.problems).toEqual([
      'routes[0].to.topic: topic "orders.***": token "***" may only contain letters, digits, "_", "-", ":" and "@"',
    ]);
  });

  it('shows no part of an environment value in a problem about where it was substituted: not its first characters, not one of its tokens', () => {
    const secret = 'sk_live_0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ';
    const long = problems(route(`    to: { transport: kafka, topic: out }\n    retry: { attempts: "\${SECRET}" }`), { SECRET: secret });
    expect(long).toEqual(['routes[0].retry.attempts: expected number, got "***…"']);
    const tokens = problems(route('    to: { transport: kafka, topic: "out.${SECRET}" }'), { SECRET: 'pass word.hunter 22' });
    expect(tokens).toEqual(['routes[0].to.topic: topic "out.***": token "***" may only contain letters, digits, "_", "-", ":" and "@"']);
    // Elsewhere only whole values are hidden: an environment value "kafka-9092" does not blank out "kafka".
    const elsewhere = problems(route('    to: { transport: kafak, topic: "out.${HOST}" }'), { HOST: 'kafka-9092' });
    expect(elsewhere).toEqual(['routes[0].to.transport: unknown transport "kafak" (did you mean "kafka"?); declared: local, kafka']);
  });

  it('takes numbers and booleans from the environment where a value is one unquoted reference; quoted, a reference stays text', () => {
    const result = parseBridgeConfig(
      `transports:
  r:
    type: rabbitmq
    prefetch: \${PREFETCH}
    confirm: \${CONFIRM:-true}
    connectionName: "\${PREFETCH}"
routes:
  - name: x
    from:
      transport: r
      topic: a
      concurrency: \${CONCURRENCY:-4}
    to: { transport: r, topic: b }
    retry:
      multiplier: \${MULTIPLIER}
    filter:
      json:
        total:
          gte: \${MIN_TOTAL}
        note: \${NOTE}
`,
      { env: { PREFETCH: '250', MULTIPLIER: '1.5', MIN_TOTAL: '-10', NOTE: '12345678901234567890' } },
    );
    if (!result.ok) throw new Error(result.problems.join('\n'));
    expect(result.config.transports['r']).toEqual({ type: 'rabbitmq', prefetch: 250, confirm: true, connectionName: '250' });
    expect(result.config.routes[0]).toMatchObject({
      from: { concurrency: 4 },
      retry: { multiplier: 1.5 },
      // An integer too large to hold exactly stays text.
      filter: { json: { total: { gte: -10 }, note: '12345678901234567890' } },
    });
  });

  it('reports syntax errors with line and column, for YAML and JSON', () => {
    expect(parseBridgeConfig('transports:\n  a: [1, 2\nroutes: []').ok).toBe(false);
    const yaml = parseBridgeConfig('transports: {}\nroutes:\n  - name: a\n    name: b\n');
    expect(yaml.ok ? [] : yaml.problems).toEqual([expect.stringMatching(/^line 4, column 5: Map keys must be unique/)]);
    const json = parseBridgeConfig('{"transports": {', { format: 'json' });
    expect(json.ok ? [] : json.problems).toEqual([expect.stringMatching(/^not valid JSON: /)]);
    expect(parseBridgeConfig('').ok ? [] : (parseBridgeConfig('') as { problems: string[] }).problems).toEqual(['the configuration is empty: it needs "transports" and "routes"']);
    expect((parseBridgeConfig('- 1\n- 2') as { problems: string[] }).problems).toEqual(['(top level): expected an object with "transports" and "routes", got a list']);
    expect((parseBridgeConfig(Uint8Array.of(0xff, 0xfe, 0x00)) as { problems: string[] }).problems).toEqual(['the configuration is not valid UTF-8 text']);
  });

  it('bounds alias expansion and nesting instead of hanging or overflowing the stack', () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`)].join('\n');
    const started = performance.now();
    expect(parseBridgeConfig(bomb).ok).toBe(false);
    expect(parseBridgeConfig(`${'['.repeat(5_000)}${']'.repeat(5_000)}`, { format: 'json' }).ok).toBe(false);
    expect(parseBridgeConfig(`transports: ${'{a: '.repeat(3_000)}1${'}'.repeat(3_000)}`).ok).toBe(false);
    // An alias to an enclosing value makes a structure that contains itself (found by fuzzing).
    expect(parseBridgeConfig('b: &b [1, *b, *b, *b, *b, *b, *b, *b, *b]\nroutes: *b')).toMatchObject({ ok: false, problems: expect.arrayContaining(['b[1]: contains itself (a YAML alias to an enclosing value)']) });
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('never throws on random input (anything but a ConfigError would be a bug)', () => {
    const pieces = ['transports:', 'routes:', '- ', '{', '}', '[', ']', ':', '"', '${', '&a', '*a', '!!binary', '\n', '  ', 'type: kafka', 'name: x', '#', '\t', '\u0000', '{topic}'];
    for (let i = 0; i < 3_000; i++) {
      const input = i % 2 === 0 ? randomBytes(i % 200) : Array.from({ length: i % 40 }, () => pieces[Math.floor(Math.random() * pieces.length)]).join('');
      try {
        const result = parseBridgeConfig(input, { env: { A: 'x' } });
        if (!result.ok) expect(result.problems.length).toBeGreaterThan(0);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
      }
    }
  });
});

describe('templates and suggestions', () => {
  it('fills in topic, tokens, key, id and headers, and refuses to guess a missing value', () => {
    const t = compileTemplate('eu.{headers.region}.{topic[-1]}.{key}');
    if ('problems' in t) throw new Error(t.problems.join());
    expect(t.render({ topic: 'orders.placed', key: 'c1', id: 'm1', headers: { region: 'de' } })).toBe('eu.de.placed.c1');
    expect(() => t.render({ topic: 'orders.placed', key: 'c1', id: 'm1', headers: {} })).toThrow(/message m1: the message has no header "region"/);
    expect(compileTemplate('a.{{literal}}')).toMatchObject({ constant: true });
    expect(compileTemplate('a.{nope')).toEqual({ problems: ['unclosed "{" at position 2'] });
  });

  it('in a topic template, lets a header, key or id fill exactly one token, naming the placeholder and value otherwise', () => {
    const t = compileTemplate('shipments.{headers.region}.{key}.{id}.{topic}', { topic: true });
    if ('problems' in t) throw new Error(t.problems.join());
    const input = { topic: 'orders.placed', key: 'c-1:x@y_z', id: 'm1', headers: { region: 'eu' } };
    // {topic} is a whole topic the transport delivered: its dots are levels on purpose.
    expect(t.render(input)).toBe('shipments.eu.c-1:x@y_z.m1.orders.placed');
    const refusal = (region: string): string => {
      try {
        t.render({ ...input, headers: { region } });
      } catch (error) {
        expect(error).toBeInstanceOf(PermanentError);
        return (error as Error).message;
      }
      throw new Error(`rendered ${JSON.stringify(region)}`);
    };
    expect(refusal('eu.internal.admin')).toBe(
      'template "shipments.{headers.region}.{key}.{id}.{topic}" cannot be filled in for message m1: {headers.region} is "eu.internal.admin", ' +
        'which is not one topic token (only letters, digits, "_", "-", ":" and "@"; no ".", "*" or ">")',
    );
    expect(refusal('>')).toMatch(/\{headers\.region\} is ">"/);
    expect(refusal('*')).toMatch(/\{headers\.region\} is "\*"/);
    expect(refusal('eu west')).toMatch(/\{headers\.region\} is "eu west"/);
    expect(refusal('')).toMatch(/the message has no header "region"/);
    expect(() => t.render({ ...input, key: 'a.b' })).toThrow(/\{key\} is "a\.b"/);
    expect(() => t.render({ ...input, id: 'm.1' })).toThrow(/\{id\} is "m\.1"/);
    expect(() => t.render({ ...input, id: '' })).toThrow(/the message has no id/);
    // Keys and header values are free text elsewhere: only topic templates are held to one token.
    const text = compileTemplate('{headers.region}/{key}');
    if ('problems' in text) throw new Error(text.problems.join());
    expect(text.render({ ...input, key: 'a.b', headers: { region: 'eu.internal' } })).toBe('eu.internal/a.b');
  });

  it('suggests only close names', () => {
    expect(editDistance('kafak', 'kafka')).toBe(1);
    expect(closest('kafak', ['kafka', 'nats'])).toBe('kafka');
    expect(closest('redis', ['kafka', 'nats'])).toBeUndefined();
  });
});

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// `switchyard bridge CONFIG`: a transport option check runs after the config is parsed, and may
// quote only part of a value from the environment (one broker of a comma-separated list). That
// part is still a secret: the message must hide it, not only the whole value.

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'bridge-cli-secret-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--conditions=switchyard-source', 'src/cli/main.ts', 'bridge', ...args], { cwd: root, env: { ...process.env, ...env }, timeout: 60_000 }, (error, _stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr }),
    );
  });
}

describe('switchyard bridge CONFIG with a secret in a transport option', () => {
  it('hides the part of the secret a transport check quotes, and still says what is wrong', async () => {
    const file = join(dir, 'bridge.yaml');
    writeFileSync(
      file,
      `transports:
  kafka: { type: kafka, brokers: "\${KAFKA_BROKERS}" }
  local: { type: memory }
routes:
  - name: kafka-to-local
    from: { transport: kafka, topic: orders }
    to: { transport: local, topic: orders }
`,
    );
    // The Kafka check splits the list on "," and quotes the broker that is not host:port.
    const secret = 'tok_9f8e7d6c5b4a';
    const { code, stderr } = await cli(['--dry-run', file], { KAFKA_BROKERS: `127.0.0.1:9092,${secret}` });
    expect(code).toBe(2);
    expect(stderr).toContain(`${file}: transports.kafka: broker "***" must be "host:port"`);
    expect(stderr).not.toContain(secret.slice(0, 8));
  });
});

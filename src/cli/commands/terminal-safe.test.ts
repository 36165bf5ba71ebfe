import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { embedded } from '../../transports/embedded/index.ts';
import { spawnCli } from './cli.test-support.ts';

// What tail and dlq list print comes from whoever published the message. Control characters in it
// (an escape sequence, a carriage return, a newline) reached the terminal as they were: a payload
// could recolour or rewrite the screen, or print a line that passes for another message.
const dir = mkdtempSync(join(tmpdir(), 'sy-cli-terminal-safe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hostile = 'ok\u001b[2J\u001b]0;owned\u0007\rfake line\n2026-01-01T00:00:00.000Z orders id=forged \u009b31m\u202eevil';
const escaped = 'ok\\u001b[2J\\u001b]0;owned\\u0007\\rfake line\\n2026-01-01T00:00:00.000Z orders id=forged \\u009b31m\\u202eevil';

beforeAll(async () => {
  const bus = embedded({ dir });
  await bus.publish('orders', { id: 'm-1', key: 'k\u001b[31m', payload: new TextEncoder().encode(hostile), headers: { 'content-type': 'text/plain' } });
  await bus.publish('orders.dlq', {
    id: 'd-1',
    payload: new Uint8Array(1),
    headers: { 'x-original-topic': 'orders', 'x-handler': 'bill\u001b[8m', 'x-attempts': '1', 'x-failed-at': '2026-01-02T03:04:05.000Z', 'x-error': `DecodeError: ${hostile}` },
  });
  await bus.close();
});

const controls = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/; // eslint-disable-line no-control-regex

it('tail prints a message on one line with its control characters escaped', async () => {
  const { code, stdout, stderr } = await spawnCli(['tail', 'orders', '--dir', dir, '--from', 'earliest', '--limit', '1']).done;
  expect(code, stderr).toBe(0);
  expect(stdout).not.toMatch(controls);
  expect(stdout.split('\n')).toHaveLength(2); // one line, and the final newline
  expect(stdout).toContain(`key=k\\u001b[31m id=m-1 ${escaped}\n`);
});

it('dlq list prints a dead letter\'s headers and error with their control characters escaped', async () => {
  const { code, stdout, stderr } = await spawnCli(['dlq', 'list', 'orders', '--dir', dir, '--idle', '200']).done;
  expect(code, stderr).toBe(0);
  expect(stdout).not.toMatch(controls);
  expect(stdout).toBe(['d-1  2026-01-02T03:04:05.000Z  attempts=1  handler=bill\\u001b[8m  orders', `    DecodeError: ok\\u001b[2J\\u001b]0;owned\\u0007\\rfake line`, '    2026-01-01T00:00:00.000Z orders id=forged \\u009b31m\\u202eevil', ''].join('\n'));
});

it('dlq list --json escapes the control characters JSON.stringify leaves as they are (C1, bidirectional overrides), keeping the same value', async () => {
  const { code, stdout, stderr } = await spawnCli(['dlq', 'list', 'orders', '--dir', dir, '--idle', '200', '--json']).done;
  expect(code, stderr).toBe(0);
  expect(stdout).not.toMatch(controls);
  expect(stdout).toContain('forged \\u009b31m\\u202eevil');
  const letter = JSON.parse(stdout) as { handler: string; error: string };
  expect(letter.handler).toBe('bill\u001b[8m');
  expect(letter.error).toBe(`DecodeError: ${hostile}`);
});

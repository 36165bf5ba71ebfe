import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransportError } from '../core/errors.ts';
import { cannotMountTmpfs, mountTmpfs, unmountAllTmpfs } from '../internal/tmpfs.test-support.ts';
import { postgresEventStore } from './postgres-event-store.ts';

/**
 * PostgreSQL out of disk, for real: the store's tables live in a tablespace on a tmpfs of a few
 * MiB, so an append meets "could not extend file: No space left on device" (SQLSTATE 53100).
 * Needs root (the mount) and a superuser connection (the tablespace); skipped elsewhere, saying why.
 */
const url = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const tablespace = `sy_full_${run}`;
const schema = `es_full_${run}`;
const reason = cannotMountTmpfs();

describe.skipIf(reason !== undefined)(`postgres event store on a full disk${reason ? ` — skipped: ${reason}` : ''}`, () => {
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  // Everything this pool creates goes to the small tablespace.
  const pool = new pg.Pool({ connectionString: url, max: 4, options: `-c default_tablespace=${tablespace}` });
  let ready: string | undefined;

  beforeAll(async () => {
    const { rows } = await admin.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
    if (!rows[0]?.rolsuper) {
      ready = 'creating a tablespace needs a superuser connection';
      return;
    }
    const dir = mountTmpfs(4096);
    execFileSync('chown', ['postgres:postgres', dir]);
    await admin.query(`CREATE TABLESPACE "${tablespace}" LOCATION '${dir}'`);
    await admin.query(`CREATE SCHEMA "${schema}"`);
  });

  afterAll(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await admin.query(`DROP TABLESPACE IF EXISTS "${tablespace}"`).catch(() => undefined);
    await pool.end();
    await admin.end();
    unmountAllTmpfs();
  });

  it('refuses an append with the reason and stores none of its events, and appends again once there is room', async (ctx) => {
    if (ready) ctx.skip(ready);
    const store = postgresEventStore({ pool, schema });
    await store.appendToStream('account-1', { type: 'Opened', data: { owner: 'alice' } }); // creates the tables, in the tablespace
    // Fill what is left of the tablespace with a table of incompressible rows.
    await pool.query(`CREATE TABLE "${schema}".filler (b bytea)`);
    const filled = await pool
      // 200 rows of 64 KiB of random bytes (incompressible): more than the 4 MiB there are.
      .query(`INSERT INTO "${schema}".filler SELECT (SELECT decode(string_agg(md5(random()::text || g || i), ''), 'hex') FROM generate_series(1, 4096) g) FROM generate_series(1, 200) i`)
      .then(
        () => 'room left',
        (error: { code?: string }) => error.code,
      );
    expect(filled).toBe('53100');

    const big = { pad: randomBytes(48 * 1024).toString('base64') };
    const refused = await store
      .appendToStream('account-1', [
        { type: 'Deposited', data: big },
        { type: 'Deposited', data: big },
        { type: 'Deposited', data: big },
      ])
      .then(
        () => 'appended',
        (error: unknown) => error,
      );
    expect(refused).toBeInstanceOf(TransportError);
    expect((refused as Error).message).toMatch(/appending to stream "account-1" failed: the database server is out of disk space \(SQLSTATE 53100: .*No space left on device.*Nothing of it was stored/);
    expect((refused as TransportError).retryable).toBe(true);
    expect((await store.readStream('account-1')).map((e) => e.type)).toEqual(['Opened']); // none of the three

    await pool.query(`DROP TABLE "${schema}".filler`);
    await store.appendToStream('account-1', { type: 'Deposited', data: { amount: 5 } }, { expectedVersion: 1 });
    expect((await store.readStream('account-1')).map((e) => e.type)).toEqual(['Opened', 'Deposited']);
    await store.close();
  });
});

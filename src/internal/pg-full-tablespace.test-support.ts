import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { cannotMountTmpfs, mountTmpfs, unmountAllTmpfs } from './tmpfs.test-support.ts';

/**
 * PostgreSQL out of disk, for real: a tablespace on a tmpfs of a few MiB and a pool whose tables
 * all go there, so a write that needs a new page meets "could not extend file: No space left on
 * device" (SQLSTATE 53100). Needs root (the mount) and a superuser connection (the tablespace).
 */
export interface FullTablespace {
  /** A pool whose new tables live in the small tablespace. */
  readonly pool: pg.Pool;
  /** A schema of the test's own, dropped at the end. */
  readonly schema: string;
  /** Why it could not be set up (the test then skips, saying so), or undefined. */
  readonly unavailable: string | undefined;
  /** Sets it up (for `beforeAll`). */
  setUp(): Promise<void>;
  /** Fills what is left of the tablespace; resolves to the SQLSTATE the last insert met. */
  fill(): Promise<string | undefined>;
  /** Frees what `fill` took. */
  makeRoom(): Promise<void>;
  /** Drops everything and unmounts (for `afterAll`). */
  tearDown(): Promise<void>;
}

const url = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Why a full tablespace cannot be made here, before connecting; undefined when it may. */
export const cannotFillTablespace: string | undefined = cannotMountTmpfs();

/** A small tablespace of `sizeKiB` for one test file. */
export function fullTablespace(sizeKiB = 4096): FullTablespace {
  const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const tablespace = `sy_full_${run}`;
  const schema = `full_${run}`;
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  const pool = new pg.Pool({ connectionString: url, max: 4, options: `-c default_tablespace=${tablespace}` });
  let unavailable: string | undefined;
  return {
    pool,
    schema,
    get unavailable() {
      return unavailable;
    },
    async setUp() {
      const { rows } = await admin.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
      if (!rows[0]?.rolsuper) {
        unavailable = 'creating a tablespace needs a superuser connection';
        return;
      }
      const dir = mountTmpfs(sizeKiB);
      execFileSync('chown', ['postgres:postgres', dir]);
      await admin.query(`CREATE TABLESPACE "${tablespace}" LOCATION '${dir}'`);
      await admin.query(`CREATE SCHEMA "${schema}"`);
    },
    async fill() {
      await pool.query(`CREATE TABLE IF NOT EXISTS "${schema}".filler (b bytea)`);
      // Rows of 64 KiB of random bytes (incompressible), until the server refuses one.
      const oneRow = `INSERT INTO "${schema}".filler SELECT decode(string_agg(md5(random()::text || g), ''), 'hex') FROM generate_series(1, 4096) g`;
      for (let i = 0; i < 100_000; i++) {
        const refused = await pool.query(oneRow).then(
          () => undefined,
          (error: { code?: string }) => error.code ?? 'unknown',
        );
        if (refused) return refused;
      }
      return undefined;
    },
    async makeRoom() {
      await pool.query(`DROP TABLE IF EXISTS "${schema}".filler`);
    },
    async tearDown() {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
      await admin.query(`DROP TABLESPACE IF EXISTS "${tablespace}"`).catch(() => undefined);
      await pool.end();
      await admin.end();
      unmountAllTmpfs();
    },
  };
}

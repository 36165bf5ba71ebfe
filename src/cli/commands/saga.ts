import type { Command } from 'commander';
import { ConfigError } from '../../core/errors.ts';
import { postgresSagaStore } from '../../saga/postgres-saga-store.ts';
import { retrySaga } from '../../saga/retry-saga.ts';
import { SAGA_STATUSES, type SagaRecord, type SagaStatus, type SagaStore } from '../../saga/saga-store.ts';

interface StoreOptions {
  pg?: string;
  table: string;
}

/** Opens the saga store the options name, runs `work`, and closes it. */
async function withStore<T>(opts: StoreOptions, work: (store: SagaStore) => Promise<T>): Promise<T> {
  const url = opts.pg ?? process.env.SWITCHYARD_PG_URL;
  if (!url) throw new ConfigError('no saga store given: pass --pg postgres://… or set SWITCHYARD_PG_URL');
  let pg: typeof import('pg').default;
  try {
    pg = (await import('pg')).default;
  } catch (error) {
    throw new ConfigError('reading a PostgreSQL saga store needs the "pg" package: npm install pg', { cause: error });
  }
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    return await work(postgresSagaStore({ pool, table: opts.table }));
  } finally {
    await pool.end();
  }
}

const time = (ms: number): string => new Date(ms).toISOString();

function line(r: SagaRecord): string {
  const owner = r.owner ? `  owner=${r.owner}` : '';
  return `${r.id}  ${r.saga}  ${r.status}  step=${r.step}  v${r.version}  updated=${time(r.updatedAt)}${owner}`;
}

function details(r: SagaRecord): string[] {
  const out = [line(r), `  created ${time(r.createdAt)}`, `  input ${JSON.stringify(r.input)}`];
  if (r.error) out.push(`  error ${r.error}`);
  if (r.leaseUntil !== undefined) out.push(`  leased until ${time(r.leaseUntil)}`);
  if (r.state !== undefined) out.push(`  state ${JSON.stringify(r.state)}`);
  if (r.deadlineAt !== undefined) out.push(`  deadline ${time(r.deadlineAt)}`);
  out.push(`  history (${r.history.length}):`);
  for (const h of r.history) {
    const extra = h.error ? `  ${h.error}` : h.output === undefined ? '' : `  → ${JSON.stringify(h.output)}`;
    out.push(`    ${time(h.at)}  ${h.kind} ${h.index}:${h.step}  ${h.outcome}  (${h.attempts} ${h.attempts === 1 ? 'try' : 'tries'})${extra}`);
  }
  return out;
}

/**
 * `switchyard saga list|show|retry`: inspect saga instances in a PostgreSQL saga store and send
 * the retry command to `compensation_failed` ones (a running orchestrator picks them up).
 */
export function registerSaga(program: Command): void {
  const saga = program.command('saga').description('inspect saga instances in a PostgreSQL saga store, and retry failed compensations');
  const store = (cmd: Command): Command =>
    cmd
      .option('--pg <url>', 'PostgreSQL connection URL (default: $SWITCHYARD_PG_URL)')
      .option('--table <name>', 'the saga table', 'switchyard_sagas')
      .option('--json', 'print JSON');

  store(saga.command('list'))
    .description('list saga instances, newest first')
    .option('-s, --status <statuses...>', `only these statuses (${SAGA_STATUSES.join(', ')})`)
    .option('--saga <name>', 'only instances of this saga')
    .option('-n, --limit <n>', 'most instances shown', (v) => Number.parseInt(v, 10), 50)
    .action(async (opts: StoreOptions & { status?: string[]; saga?: string; limit: number; json?: boolean }) => {
      const unknown = (opts.status ?? []).filter((s) => !(SAGA_STATUSES as readonly string[]).includes(s));
      if (unknown.length > 0) throw new ConfigError(`unknown status ${unknown.join(', ')}; choose from ${SAGA_STATUSES.join(', ')}`);
      if (!(opts.limit > 0)) throw new ConfigError('--limit must be a whole number ≥ 1');
      const records = await withStore(opts, (s) =>
        s.list({ limit: opts.limit, ...(opts.saga ? { saga: opts.saga } : {}), ...(opts.status ? { status: opts.status as SagaStatus[] } : {}) }),
      );
      if (opts.json) console.log(JSON.stringify(records, null, 2));
      else if (records.length === 0) console.log('no sagas');
      else for (const r of records) console.log(line(r));
    });

  store(saga.command('show <id>'))
    .description('show one saga instance with its step history')
    .action(async (id: string, opts: StoreOptions & { json?: boolean }) => {
      const record = await withStore(opts, (s) => s.get(id));
      if (!record) throw new ConfigError(`no saga with id ${JSON.stringify(id)}`);
      console.log(opts.json ? JSON.stringify(record, null, 2) : details(record).join('\n'));
    });

  store(saga.command('retry <id>'))
    .description('put a compensation_failed saga back to compensating; a running orchestrator resumes it')
    .action(async (id: string, opts: StoreOptions & { json?: boolean }) => {
      const record = await withStore(opts, (s) => retrySaga(s, id));
      console.log(opts.json ? JSON.stringify(record, null, 2) : `${id}: compensating again from step ${record.step}; an orchestrator running "${record.saga}" will resume it`);
    });
}

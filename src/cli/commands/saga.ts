import type { Command } from 'commander';
import { ConfigError } from '../../core/errors.ts';
import { redact, redactUrl } from '../../core/redact.ts';
import { postgresSagaStore } from '../../saga/postgres-saga-store.ts';
import { retrySaga } from '../../saga/retry-saga.ts';
import { SAGA_STATUSES, type SagaRecord, type SagaStatus, type SagaStore } from '../../saga/saga-store.ts';
import { wholeNumber } from '../option-parsers.ts';
import { connectProblem } from '../broker-choice.ts';
import { printable, printableJson } from '../printable.ts';

interface StoreOptions {
  pg?: string;
  table: string;
}

/**
 * The connection URL from `--pg` or SWITCHYARD_PG_URL, and which of the two it came from (for
 * messages). A string that is no URL is refused here: pg would read it as a relative URL and try
 * to reach a host named "base".
 */
function pgUrl(opts: StoreOptions): { url: string; source: string } {
  const source = opts.pg !== undefined ? '--pg' : 'SWITCHYARD_PG_URL';
  const url = opts.pg ?? process.env.SWITCHYARD_PG_URL;
  if (!url) throw new ConfigError('no saga store given: pass --pg postgres://… or set SWITCHYARD_PG_URL');
  const example = 'postgres://user@host:5432/database';
  if (url.startsWith('/')) return { url, source }; // a Unix socket directory, as pg accepts
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    // Not shown: an unparsable string may still hold a password.
    throw new ConfigError(`${source} is not a URL (${url.length} characters, not shown as it may hold a password): expected ${example}`);
  }
  if (!['postgres:', 'postgresql:', 'socket:'].includes(protocol)) throw new ConfigError(`${source} must be a PostgreSQL URL like ${example}, got ${protocol}//…`);
  return { url, source };
}

/** How long connecting to PostgreSQL may take. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Opens the saga store the options name, runs `work`, and closes it. The table must exist: the
 * store creates a missing one on first use, which suits an application but would turn a mistyped
 * `--table` into a new empty table and a "no sagas" answer.
 */
async function withStore<T>(opts: StoreOptions, work: (store: SagaStore) => Promise<T>): Promise<T> {
  const { url, source } = pgUrl(opts);
  let pg: typeof import('pg').default;
  try {
    pg = (await import('pg')).default;
  } catch (error) {
    throw new ConfigError('reading a PostgreSQL saga store needs the "pg" package: npm install pg', { cause: error });
  }
  const where = `PostgreSQL at ${url.startsWith('/') ? redact(url) : redactUrl(url)}`;
  // A bounded wait: a host that drops packets would otherwise leave the command hanging for minutes.
  const pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  pool.on('error', () => undefined); // an idle connection dropped by the server; the next query reports it
  try {
    const store = postgresSagaStore({ pool, table: opts.table });
    let found: string | null | undefined;
    try {
      found = (await pool.query<{ found: string | null }>('SELECT to_regclass($1)::text AS found', [store.table])).rows[0]?.found;
    } catch (error) {
      throw new Error(`cannot connect to ${where} (${source}): ${connectProblem(error, 'PostgreSQL')}`, { cause: error });
    }
    if (!found) throw new ConfigError(`no table ${opts.table} in ${where}; check --table (default switchyard_sagas)`);
    return await work(store);
  } finally {
    await pool.end();
  }
}

const time = (ms: number): string => new Date(ms).toISOString();

/**
 * One saga on one line. Ids, names, owners and errors come from the application (an error often
 * quotes the message that caused it): control characters are printed escaped, so they cannot act
 * on the terminal or pass for another line.
 */
function line(r: SagaRecord): string {
  const owner = r.owner ? `  owner=${r.owner}` : '';
  return printable(`${r.id}  ${r.saga}  ${r.status}  step=${r.step}  v${r.version}  updated=${time(r.updatedAt)}${owner}`);
}

/** `text` (an error with its stack, say) as lines under `label`: the first after it, the others indented below. */
function block(indent: string, label: string, text: string): string[] {
  const [first = '', ...rest] = text.split(/\r?\n/);
  return [`${indent}${label}${printable(first)}`, ...rest.map((l) => `${indent}    ${printable(l)}`)];
}

function details(r: SagaRecord): string[] {
  const out = [line(r), `  created ${time(r.createdAt)}`, `  input ${printableJson(r.input)}`];
  if (r.error) out.push(...block('  ', 'error ', r.error));
  if (r.leaseUntil !== undefined) out.push(`  leased until ${time(r.leaseUntil)}`);
  if (r.state !== undefined) out.push(`  state ${printableJson(r.state)}`);
  if (r.deadlineAt !== undefined) out.push(`  deadline ${time(r.deadlineAt)}`);
  out.push(`  history (${r.history.length}):`);
  for (const h of r.history) {
    const head = printable(`${time(h.at)}  ${h.kind} ${h.index}:${h.step}  ${h.outcome}  (${h.attempts} ${h.attempts === 1 ? 'try' : 'tries'})`);
    if (h.error) out.push(...block('    ', `${head}  `, h.error));
    else out.push(`    ${head}${h.output === undefined ? '' : `  → ${printableJson(h.output)}`}`);
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
    .option('-n, --limit <n>', 'most instances shown', wholeNumber('--limit'), 50)
    .action(async (opts: StoreOptions & { status?: string[]; saga?: string; limit: number; json?: boolean }) => {
      const unknown = (opts.status ?? []).filter((s) => !(SAGA_STATUSES as readonly string[]).includes(s));
      if (unknown.length > 0) throw new ConfigError(`unknown status ${unknown.join(', ')}; choose from ${SAGA_STATUSES.join(', ')}`);
      const records = await withStore(opts, (s) =>
        s.list({ limit: opts.limit, ...(opts.saga ? { saga: opts.saga } : {}), ...(opts.status ? { status: opts.status as SagaStatus[] } : {}) }),
      );
      if (opts.json) console.log(printableJson(records, 2));
      else if (records.length === 0) console.log('no sagas');
      else for (const r of records) console.log(line(r));
    });

  store(saga.command('show <id>'))
    .description('show one saga instance with its step history')
    .action(async (id: string, opts: StoreOptions & { json?: boolean }) => {
      const record = await withStore(opts, (s) => s.get(id));
      if (!record) throw new ConfigError(`no saga with id ${printableJson(id)}`);
      console.log(opts.json ? printableJson(record, 2) : details(record).join('\n'));
    });

  store(saga.command('retry <id>'))
    .description('put a compensation_failed saga back to compensating; a running orchestrator resumes it')
    .action(async (id: string, opts: StoreOptions & { json?: boolean }) => {
      const record = await withStore(opts, (s) => retrySaga(s, id));
      console.log(opts.json ? printableJson(record, 2) : printable(`${id}: compensating again from step ${record.step}; an orchestrator running "${record.saga}" will resume it`));
    });
}

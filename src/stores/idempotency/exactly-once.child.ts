// The consumer process of the SIGKILL exactly-once test: the scenario router over the embedded
// transport. Prints "acked <n>" as it goes. Not part of the package.
//   DIR=<embedded data dir> TOPIC=… PG_URL=… EFFECTS=… KEYS=… MODE=transactional|lease
import pg from 'pg';
import { embedded } from '../../transports/embedded/index.ts';
import type { Middleware } from '../../router/types.ts';
import { scenarioRouter } from './exactly-once.fixture.ts';

const env = process.env;
const pool = new pg.Pool({ connectionString: env.PG_URL!, max: 24 });
pool.on('error', () => {});
let acked = 0;
const observe: Middleware = async function observe(_msg, _ctx, next) {
  await next();
  if (++acked % 100 === 0) process.stdout.write(`acked ${acked}\n`);
};
const bus = embedded({ dir: env.DIR! });
const router = scenarioRouter(bus, env.TOPIC!, { pool, effects: env.EFFECTS!, keys: env.KEYS!, mode: env.MODE as 'transactional' | 'lease', failRate: 0.1 }, observe);
await router.start();
process.stdout.write('ready\n');
await router.run();
await pool.end();
process.stdout.write(`stopped ${acked}\n`);

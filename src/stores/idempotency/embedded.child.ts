// The writer process of the embedded idempotency store's SIGKILL test: claims and completes
// keys, printing "done <key>" once each complete() resolved. Not part of the package.
//   node embedded.child.ts <dir> <round>
import { embeddedIdempotencyStore } from './embedded.ts';

const [dir, round] = process.argv.slice(2) as [string, string];
const store = embeddedIdempotencyStore({ dir });
const worker = async (w: number): Promise<void> => {
  for (let i = 0; ; i++) {
    const key = `r${round}-w${w}-${i}`;
    const claim = await store.claim(key, { leaseMs: 60_000, ttlMs: 3_600_000 });
    if (claim.status !== 'claimed') throw new Error(`${key}: ${claim.status}`);
    await claim.complete();
    process.stdout.write(`done ${key}\n`);
  }
};
await Promise.all([0, 1, 2, 3].map(worker));

// Runs `switchyard demo` from the sources, as a user would, for the demo's tests.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Runs `switchyard demo` from the sources; resolves with its exit code and output whatever the code. */
export function demo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--conditions=switchyard-source', 'src/cli/main.ts', 'demo', ...args], { cwd: root, timeout: 90_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

export interface Summary {
  ok: boolean;
  orders: { requested: number; placed: number; completed: number; rolledBack: number; stuck: string[] };
  injected: { poison: number; duplicatesSent: number; poisonIds: string[] };
  observed: { duplicatesSkipped: number; paymentDuplicatesAbsorbed: number; breakerOpened: number; retries: number; realtime: { failed: number }; workerCrashes: Array<{ atS: number; inFlight: number }> };
  payments: { charges: number; refunds: number };
  deadLetters: { orderRequests: number; other: number; ids: string[] };
  checks: Array<{ name: string; ok: boolean; detail: string }>;
}


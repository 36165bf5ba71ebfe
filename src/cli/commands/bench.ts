import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { toMarkdown } from '../../bench/report.ts';
import { runBench } from '../../bench/runner.ts';
import { scenarios } from '../../bench/scenarios/index.ts';
import { ConfigError } from '../../core/errors.ts';
import { wholeNumber } from '../option-parsers.ts';
import { usePrivateTempDir } from '../private-temp-dir.ts';

/** `switchyard bench`: measure on this machine and write bench/results/latest.{json,md}. */
export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('run the benchmarks side by side with the raw clients and the physical floor, and write a table')
    .option('-s, --scenario <names...>', `only these scenarios (${scenarios.map((s) => s.name).join(', ')})`)
    .option('-q, --quick', 'fewer messages and 3 rounds: a smoke run for CI (a few minutes)')
    .option('--rounds <n>', 'rounds per figure (default 5, quick 3)', wholeNumber('--rounds'))
    .option('--json <file>', 'also write the JSON report here')
    .option('--out <dir>', 'results folder', 'bench/results')
    .action(async (opts: { scenario?: string[]; quick?: boolean; rounds?: number; json?: string; out: string }) => {
      const unknown = (opts.scenario ?? []).filter((n) => !scenarios.some((s) => s.name === n));
      if (unknown.length > 0) throw new ConfigError(`unknown scenario ${unknown.join(', ')}; choose from ${scenarios.map((s) => s.name).join(', ')}`);
      const chosen = opts.scenario ? scenarios.filter((s) => opts.scenario!.includes(s.name)) : scenarios;
      // Scenarios write their data (up to hundreds of MB) under a folder of the run's own, which
      // goes away with the run, also when it is interrupted: a round cannot be stopped half-way.
      // A short name: an embedded broker's socket path inside it must stay within 103 bytes
      // (macOS's temp dir alone is about 50).
      const scratch = usePrivateTempDir('sy', `interrupted: the benchmark stopped and removed its data; nothing was written to ${opts.out}`);
      let report: Awaited<ReturnType<typeof runBench>>;
      try {
        report = await runBench(chosen, { quick: opts.quick ?? false, rounds: opts.rounds });
      } finally {
        scratch.remove();
      }
      const markdown = toMarkdown(report);
      const out = resolve(opts.out);
      mkdirSync(out, { recursive: true });
      writeFileSync(resolve(out, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
      writeFileSync(resolve(out, 'latest.md'), markdown);
      if (opts.json) {
        mkdirSync(dirname(resolve(opts.json)), { recursive: true });
        writeFileSync(resolve(opts.json), `${JSON.stringify(report, null, 2)}\n`);
      }
      console.log(markdown);
      console.log(`results written to ${out}/latest.json and latest.md`);
      // Client libraries measured here (keep-alive sockets, pools, reconnect timers) may hold the
      // event loop open after their scenario closed them; the report is written, so end here.
      process.exit(0);
    });
}

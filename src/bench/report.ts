import { format } from './runner.ts';
import type { CaseResult, Report } from './types.ts';

function figure(side: CaseResult['ours'] | undefined, unit: string): string {
  if (!side) return '—';
  const latency = side.p99Ms === undefined ? '' : ` (p50 ${side.p50Ms!.toFixed(2)} ms, p99 ${side.p99Ms.toFixed(2)} ms)`;
  return `${format(side.median)} ${unit} [${format(side.min)}–${format(side.max)}]${latency}`;
}

/**
 * What a throughput ratio means per operation: the time Switchyard adds to (or saves on) each one,
 * from the two medians. A ratio alone hides the scale — 0.5× of a 1 µs in-process delivery is
 * 1 µs a message, 0.5× of a network round trip is a millisecond.
 */
export function costPerOp(r: Pick<CaseResult, 'ours' | 'baseline' | 'unit'>): string {
  const per = /^(\w+?)s?\/s$/.exec(r.unit)?.[1];
  if (!per || !r.baseline || r.ours.median <= 0 || r.baseline.median <= 0) return '';
  const us = 1e6 / r.ours.median - 1e6 / r.baseline.median;
  const size = Math.abs(us);
  const shown = size >= 1000 ? `${(us / 1000).toFixed(size >= 10_000 ? 0 : 1)} ms` : `${us.toFixed(size >= 10 ? 0 : 2)} µs`;
  return ` (${us >= 0 ? '+' : ''}${shown}/${per})`;
}

/** The report as a markdown table with the machine and date, as README and results/latest.md show it. */
export function toMarkdown(report: Report): string {
  const m = report.machine;
  const lines = [
    `# Benchmark results`,
    '',
    `${report.date.slice(0, 10)} · ${m.cpus}, ${m.cores} cores, ${m.memoryGiB} GiB · ${m.os} · Node ${m.node} · ` +
      `${report.rounds} rounds per figure (median [min–max])${report.quick ? ' · quick mode' : ''}`,
    '',
    '| Scenario | Case | Switchyard | Baseline | Ratio | Target |',
    '|---|---|---|---|---|---|',
  ];
  for (const r of report.results) {
    const baseline = r.baseline ? `${r.baseline.variant}: ${figure(r.baseline, r.unit)}` : '—';
    const ratio = r.ratio === undefined ? '—' : `${r.ratio.toFixed(2)}×${r.ratioOf === 'p99' ? ' (p99)' : costPerOp(r)}`;
    const target = r.target ? `${r.target.label} ${r.target.met ? '✅ met' : '❌ missed'}` : (r.note ?? '—');
    lines.push(`| ${r.scenario} | ${r.name} | ${r.ours.variant}: ${figure(r.ours, r.unit)} | ${baseline} | ${ratio} | ${target} |`);
  }
  for (const s of report.skipped) lines.push(`| ${s.scenario} | skipped: ${s.reason} | | | | |`);
  lines.push(
    '',
    'Ratio: Switchyard ÷ baseline throughput, with the time Switchyard adds per operation (negative: saves); "(p99)": baseline p99 ÷ Switchyard p99 at the same fixed rate. Above 1 Switchyard does better either way.',
  );
  return `${lines.join('\n')}\n`;
}

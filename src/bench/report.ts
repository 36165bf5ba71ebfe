import { format } from './runner.ts';
import type { CaseResult, Report } from './types.ts';

function figure(side: CaseResult['ours'] | undefined, unit: string): string {
  if (!side) return '—';
  const latency = side.p99Ms === undefined ? '' : ` (p50 ${side.p50Ms!.toFixed(2)} ms, p99 ${side.p99Ms.toFixed(2)} ms)`;
  return `${format(side.median)} ${unit} [${format(side.min)}–${format(side.max)}]${latency}`;
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
    const ratio = r.ratio === undefined ? '—' : `${r.ratio.toFixed(2)}×${r.ratioOf === 'p99' ? ' (p99)' : ''}`;
    const target = r.target ? `${r.target.label} ${r.target.met ? '✅ met' : '❌ missed'}` : (r.note ?? '—');
    lines.push(`| ${r.scenario} | ${r.name} | ${r.ours.variant}: ${figure(r.ours, r.unit)} | ${baseline} | ${ratio} | ${target} |`);
  }
  for (const s of report.skipped) lines.push(`| ${s.scenario} | skipped: ${s.reason} | | | | |`);
  lines.push(
    '',
    'Ratio: Switchyard ÷ baseline throughput; "(p99)": baseline p99 ÷ Switchyard p99 at the same fixed rate. Above 1 Switchyard does better either way.',
  );
  return `${lines.join('\n')}\n`;
}

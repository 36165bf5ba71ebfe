import { describe, expect, it } from 'vitest';
import { runExample } from './run-example.ts';

describe('examples/09-observability', () => {
  it('serves metrics, continues a trace, raises lag.high and lag.recovered once, and reports readiness', async () => {
    const { stdout } = await runExample('examples/09-observability/main.ts');
    expect(stdout).toMatch(/payments\.charged continues the caller's trace: true/);
    expect(stdout.match(/lag\.high: .*/g)).toEqual(['lag.high: group audit is 5 behind on orders.placed']);
    expect(stdout.match(/lag\.recovered: .*/g)).toEqual(['lag.recovered: group audit is 0 behind']);
    expect(stdout).toMatch(/switchyard_messages_consumed_total\{transport="memory",topic="orders\.placed",group="billing",handler="billing"\} 5/);
    expect(stdout).toMatch(/switchyard_messages_acked_total\{.*handler="billing"\} 5/);
    expect(stdout).toMatch(/switchyard_messages_dead_lettered_total\{.*handler="billing"\} 1/);
    expect(stdout).toMatch(/readyz after stop: 503/);
  });
});

import { expect, it } from 'vitest';
import { startDashboard } from './dashboard.ts';
import type { Progress } from './main.ts';

it('the dashboard listens on loopback only and serves the page and the live figures', async () => {
  const dashboard = await startDashboard(0);
  try {
    expect(dashboard.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const point: Progress = { elapsedS: 1, ordersPerSecond: 40, p50Ms: 9, p99Ms: 30, lag: 2, lagByGroup: { 'orders.requests / orders': 2 }, retries: 1, deadLetters: 0, completed: 38, rolledBack: 2, breaker: 'closed', phase: 'load' };
    dashboard.push(point);
    const page = await fetch(dashboard.url);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('orders settled per second');
    const state = (await (await fetch(new URL('/api/state', dashboard.url))).json()) as { points: Progress[]; summary?: unknown };
    expect(state.points).toEqual([point]);
    expect(state.summary).toBeUndefined();
  } finally {
    await dashboard.close();
  }
});

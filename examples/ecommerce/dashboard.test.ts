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

it('the dashboard API answers bad requests with 4xx and what to send', async () => {
  const dashboard = await startDashboard(0);
  try {
    const post = (body: string, type = 'application/json'): Promise<Response> =>
      fetch(new URL('/api/dead-letters/replay', dashboard.url), { method: 'POST', headers: { 'content-type': type }, body });
    const notJson = await post('{oops');
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: string }).error).toMatch(/not JSON/);
    const wrongShape = await post('null');
    expect(wrongShape.status).toBe(400);
    expect(((await wrongShape.json()) as { error: string }).error).toMatch(/topic and id must be strings/);
    expect((await post('topic=x', 'application/x-www-form-urlencoded')).status).toBe(415);
    const badStatus = await fetch(new URL('/api/sagas?status=done', dashboard.url));
    expect(badStatus.status).toBe(400);
    expect(((await badStatus.json()) as { error: string }).error).toMatch(/unknown saga status "done"; one of initiated, in_progress/);
  } finally {
    await dashboard.close();
  }
});

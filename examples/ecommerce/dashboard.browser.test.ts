// The dashboard in a real browser (Debian's Chromium driven by playwright-core) during a real
// demo run: no console errors, live numbers that move, the dead letters with a working replay,
// saga step histories. A screenshot is kept in test-artifacts/ for people to look at.
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { startDashboard } from './dashboard.ts';
import { defaultFaults, runDemo } from './main.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const POISON = 4;

it.skipIf(!existsSync(CHROMIUM))(`the dashboard shows a live run, replays a dead letter and a saga's steps (needs ${CHROMIUM}: npm run services installs it)`, { timeout: 120_000 }, async () => {
  const dashboard = await startDashboard(0);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const problems: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1800 } });
    page.on('console', (m) => void (m.type() === 'error' && problems.push(`console: ${m.text()}`)));
    page.on('pageerror', (e) => void problems.push(`page: ${e.message}`));
    await page.goto(dashboard.url);

    let liveChecked: Promise<void> | undefined;
    const summary = await runDemo({
      profile: 'embedded',
      durationS: 6,
      rate: 40,
      customers: 50,
      products: 50,
      // Declines well above the default, so the newest rolled-back sagas include compensated ones.
      faults: { ...defaultFaults, paymentFailures: 30, poison: POISON, slowDownstreamS: 1 },
      onStart: (view) => {
        dashboard.attach(view);
        liveChecked = liveNumbersMove(page);
      },
      onProgress: (p) => dashboard.push(p),
      // The run is over and verified; the broker is still open, as with `switchyard demo --keep-open`.
      afterRun: async (s) => {
        dashboard.finish(s);
        await liveChecked;
        await expect.poll(() => page.locator('#summary').textContent(), { timeout: 10_000 }).toContain('all checks passed');

        // The dead letters are the poison messages; replaying one takes it out of the list.
        const rows = page.locator('#dlq tr');
        await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(POISON);
        const shown = (await rows.evaluateAll((trs) => trs.map((tr) => (tr as unknown as { dataset: Record<string, string> }).dataset.deadLetter))).toSorted();
        expect(shown).toEqual([...s.injected.poisonIds].toSorted());
        const replayed = shown[0]!;
        await page.locator(`#dlq tr[data-dead-letter="${replayed}"] button`).click();
        await expect.poll(() => page.locator('#dlq-note').textContent(), { timeout: 15_000 }).toContain(`replayed ${replayed}`);
        await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(POISON - 1);
        expect(await page.locator(`#dlq tr[data-dead-letter="${replayed}"]`).count()).toBe(0);

        // A rolled-back saga's step history: the failed step and the compensations.
        await page.selectOption('#saga-status', 'rolled_back');
        await expect
          .poll(() => page.locator('#saga-list tr.saga td:nth-child(2)').allTextContents(), { timeout: 10_000 })
          .toSatisfy((statuses: string[]) => statuses.length > 0 && statuses.every((st) => st === 'rolled_back'));
        // One that got past reserving stock, so something was compensated (payment declined, no courier).
        const compensated = await page.evaluate(() =>
          (globalThis as unknown as { sagaRows: Array<{ id: string; history: Array<{ kind: string }> }> }).sagaRows.find((r) => r.history.some((h) => h.kind === 'compensation'))?.id,
        );
        expect(compensated).toBeDefined();
        await page.locator(`#saga-list tr[data-saga="${compensated}"]`).click();
        await expect.poll(() => page.locator('#steps tbody tr').count(), { timeout: 5_000 }).toBeGreaterThan(1);
        const steps = await page.locator('#steps').textContent();
        expect(steps).toContain('failed');
        expect(steps).toContain('compensation');
        expect(await page.locator('[data-breaker="email provider"]').textContent()).toMatch(/closed|open|half-open/);

        mkdirSync(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: `${ARTIFACTS}dashboard.png`, fullPage: true });
      },
    });
    expect(summary.ok).toBe(true);
    expect(existsSync(`${ARTIFACTS}dashboard.png`)).toBe(true);
    expect(problems).toEqual([]);
  } finally {
    await browser.close();
    await dashboard.close();
  }
});

/** The headline figures change between two looks while orders flow. */
async function liveNumbersMove(page: Page): Promise<void> {
  const now = page.locator('#now');
  await expect.poll(() => now.textContent(), { timeout: 15_000 }).toMatch(/orders\/s/);
  const first = await now.textContent();
  await expect.poll(() => now.textContent(), { timeout: 15_000 }).not.toBe(first);
}

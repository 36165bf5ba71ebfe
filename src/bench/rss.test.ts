import { describe, expect, it } from 'vitest';
import { sampleRss } from './rss.ts';

describe('sampleRss', () => {
  it('reports the first reading as the baseline and the highest as the peak', () => {
    const readings = [100, 180, 150, 120];
    const sampler = sampleRss({ read: () => readings.shift()!, timer: false });
    sampler.sample();
    sampler.sample();
    expect(sampler.stop()).toEqual({ baselineBytes: 100, peakBytes: 180, samples: 4 });
  });

  it('takes a last reading when stopped', () => {
    const readings = [100, 300];
    const sampler = sampleRss({ read: () => readings.shift()!, timer: false });
    expect(sampler.stop().peakBytes).toBe(300);
  });
});

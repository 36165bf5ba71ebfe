/**
 * The longest delay a Node timer takes (2³¹ − 1 ms, about 24.8 days). Node fires a longer one
 * after 1 ms instead, with a warning: a setting above it would end a wait at once, so it is refused.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

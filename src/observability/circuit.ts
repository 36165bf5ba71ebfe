import { register as defaultRegistry, type Registry } from 'prom-client';
import type { CircuitBreaker, CircuitState } from '../middleware/circuit-breaker.ts';
import { metricSet } from './metric-set.ts';

const VALUE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };

/**
 * Exports a circuit breaker's state as `switchyard_circuit_state{circuit="<name>"}` (0 closed,
 * 1 half-open, 2 open). Returns a function that stops observing.
 *
 * @example
 * ```ts
 * const payments = circuitBreaker({ failureThreshold: 5 });
 * observeCircuit(payments, { name: 'payments', registry });
 * ```
 */
export function observeCircuit(breaker: CircuitBreaker, options: { name: string; registry?: Registry }): () => void {
  const set = metricSet(options.registry ?? defaultRegistry);
  set.circuits.set(options.name, VALUE[breaker.state]);
  const off = breaker.on((event) => {
    set.circuits.set(options.name, event.type === 'open' ? 2 : event.type === 'half-open' ? 1 : 0);
  });
  return () => {
    off();
    set.circuits.delete(options.name);
  };
}

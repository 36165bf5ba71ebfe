/**
 * A location in a config file as people write it: `routes[2].to.transport`,
 * `transports["my broker"].url`.
 *
 * @example
 * ```ts
 * formatPath(['routes', 2, 'to', 'transport']); // 'routes[2].to.transport'
 * ```
 */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const step of path) {
    if (typeof step === 'number') out += `[${step}]`;
    else if (typeof step === 'string' && /^[A-Za-z_$][\w$-]*$/.test(step)) out += out === '' ? step : `.${step}`;
    else out += `[${JSON.stringify(String(step))}]`;
  }
  return out === '' ? '(top level)' : out;
}

/**
 * True for the places in a bridge config that hold templates (`{key}`, `{headers.NAME}`…):
 * `routes[i].to.topic`, `routes[i].to.key`, `routes[i].to.headers.NAME` and
 * `routes[i].deadLetter.topic`. Environment values substituted there are escaped, so their
 * braces are text, not placeholders.
 *
 * @example
 * ```ts
 * isTemplateField(['routes', 0, 'to', 'headers', 'authorization']); // true
 * ```
 */
export function isTemplateField(path: readonly PropertyKey[]): boolean {
  if (path[0] !== 'routes' || typeof path[1] !== 'number') return false;
  const [, , section, field, name] = path;
  if (section === 'to') return path.length === 4 ? field === 'topic' || field === 'key' : path.length === 5 && field === 'headers' && typeof name === 'string';
  return section === 'deadLetter' && field === 'topic' && path.length === 4;
}

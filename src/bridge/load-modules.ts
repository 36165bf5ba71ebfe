import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { didYouMean } from './suggest.ts';

/**
 * Imports the function a module reference names: `./filters.ts#paidOnly` (a named export) or
 * `./transform.ts` (the default export), relative to `baseDir`; bare specifiers (`my-pkg#fn`)
 * resolve as packages. TypeScript modules load through Node's type stripping. Returns the
 * function or a problem (without the path; the caller adds it).
 *
 * @example
 * ```ts
 * const loaded = await loadFunction('./transform.ts#enrich', process.cwd());
 * ```
 */
export async function loadFunction(ref: string, baseDir: string): Promise<{ fn: (...args: never[]) => unknown } | { problem: string }> {
  const hash = ref.lastIndexOf('#');
  const file = hash >= 0 ? ref.slice(0, hash) : ref;
  const exportName = hash >= 0 ? ref.slice(hash + 1) : 'default';
  if (file === '' || exportName === '') return { problem: `"${ref}" is not a module reference: write "./file.ts#exportName" or "./file.ts" for its default export` };
  const relative = file.startsWith('./') || file.startsWith('../') || isAbsolute(file);
  const specifier = relative ? pathToFileURL(resolve(baseDir, file)).href : file;
  let module: Record<string, unknown>;
  try {
    module = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    return { problem: `cannot load module "${file}": ${(error as Error).message.split('\n')[0]}` };
  }
  const fn = module[exportName];
  if (typeof fn === 'function') return { fn: fn as (...args: never[]) => unknown };
  const functions = Object.keys(module).filter((k) => typeof module[k] === 'function');
  if (fn === undefined) {
    return { problem: `module "${file}" has no export "${exportName}"${didYouMean(exportName, functions)}${functions.length > 0 ? `; its functions: ${functions.join(', ')}` : ''}` };
  }
  return { problem: `export "${exportName}" of "${file}" is ${typeof fn}, not a function` };
}

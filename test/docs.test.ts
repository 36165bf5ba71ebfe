import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// Docs show code from examples that the tests run. A code block preceded by
// `<!-- snippet: FILE#REGION -->` must equal the `#region REGION` of FILE, so docs cannot drift.
const root = new URL('../', import.meta.url);
const docs = [...readdirSync(new URL('docs/', root)).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`), 'README.md'];

function region(file: string, name: string): string {
  const text = readFileSync(new URL(file, root), 'utf8');
  const match = new RegExp(`// #region ${name}\\n([\\s\\S]*?)\\n\\s*// #endregion ${name}`).exec(text);
  if (!match) throw new Error(`${file} has no region "${name}"`);
  return match[1]!;
}

describe('documentation snippets come from examples that run', () => {
  for (const doc of docs) {
    const text = readFileSync(new URL(doc, root), 'utf8');
    const snippets = [...text.matchAll(/<!-- snippet: (\S+)#(\S+) -->\n```\w*\n([\s\S]*?)\n```/g)];
    if (snippets.length === 0) continue;
    it(`${doc}: ${snippets.length} snippet(s) match their examples`, () => {
      for (const [, file, name, code] of snippets) expect(code, `${file}#${name}`).toBe(region(file!, name!));
    });
  }
});

describe('documentation renders', () => {
  for (const doc of docs) {
    it(`${doc}: every code fence is closed`, () => {
      // An unclosed fence turns the rest of the page into code (and a snippet check above can still
      // pass: it stops at the next fence, whoever's it is). Fences are lines starting with ```.
      const fences = readFileSync(new URL(doc, root), 'utf8')
        .split('\n')
        .filter((line) => /^\s*```/.test(line));
      expect(fences.length % 2, `${doc} has ${fences.length} fence lines`).toBe(0);
    });
  }
});

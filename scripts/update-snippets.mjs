// Rewrites every `<!-- snippet: FILE#REGION -->` code block in docs/*.md and README.md with the
// current `// #region REGION` of FILE (test/docs.test.ts checks they match).
//   node scripts/update-snippets.mjs
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const docs = [...readdirSync(new URL('docs/', root)).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`), 'README.md'];

function region(file, name) {
  const text = readFileSync(new URL(file, root), 'utf8');
  const match = new RegExp(`// #region ${name}\\n([\\s\\S]*?)\\n\\s*// #endregion ${name}`).exec(text);
  if (!match) throw new Error(`${file} has no region "${name}"`);
  return match[1];
}

let changed = 0;
for (const doc of docs) {
  const text = readFileSync(new URL(doc, root), 'utf8');
  const updated = text.replace(/(<!-- snippet: (\S+)#(\S+) -->\n```\w*\n)([\s\S]*?)(\n```)/g, (_all, head, file, name, _code, tail) => head + region(file, name) + tail);
  if (updated !== text) {
    writeFileSync(new URL(doc, root), updated);
    changed++;
    console.log(`updated ${doc}`);
  }
}
console.log(`${changed} file(s) updated`);

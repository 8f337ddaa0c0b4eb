// README code blocks as a user meets them: every ```ts block of a published package's README is extracted into
// a file of the consumer project (scripts/check-consumer.mjs) and typechecked against the installed tarballs.
// Markers, an HTML comment on the line right above a block:
//   <!-- fragment -->             the block cannot stand alone (a signature, a shape): not compiled
//   <!-- decorators: legacy -->   compiled with experimentalDecorators only (NestJS style); so are blocks
//                                 importing @nestjs/* or reflect-metadata
//   <!-- decorators: standard --> compiled as TS 5 standard decorators only
// Other blocks that use a decorator (a line starting with `@Name`) compile in BOTH modes, as Ballast's
// decorators promise; blocks without decorators compile once, in standard mode.
import { builtinModules } from 'node:module';

const builtins = new Set(builtinModules);

/** @returns {{ line: number, code: string, fragment: boolean, modes: ('standard' | 'legacy')[] }[]} */
export function tsBlocks(markdown) {
  const lines = markdown.split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|typescript)\s*$/.exec(lines[i]);
    if (!open) {
      if (/^```/.test(lines[i])) i = closing(lines, i); // skip other fenced blocks whole
      continue;
    }
    const end = closing(lines, i);
    const code = lines.slice(i + 1, end).join('\n');
    let above = i - 1;
    while (above >= 0 && lines[above].trim() === '') above--;
    const marker = above >= 0 ? lines[above].trim() : '';
    const modes =
      marker === '<!-- decorators: legacy -->' || /from '@nestjs\/|import 'reflect-metadata'/.test(code)
        ? ['legacy']
        : marker === '<!-- decorators: standard -->' || !/^\s*@[A-Za-z_$][\w$]*/m.test(code)
          ? ['standard']
          : ['standard', 'legacy'];
    blocks.push({ line: i + 1, code, fragment: marker === '<!-- fragment -->', modes });
    i = end;
  }
  return blocks;
}

function closing(lines, start) {
  for (let j = start + 1; j < lines.length; j++) if (/^```\s*$/.test(lines[j])) return j;
  throw new Error(`unclosed code fence at line ${start + 1}`);
}

/** Package names a block imports (`@scope/name` or `name`), Node builtins and relative paths left out. */
export function importedPackages(code) {
  const names = new Set();
  const re = /(?:from\s+|import\s+|require\(\s*|import\(\s*)['"]([^'"]+)['"]/g;
  for (const m of code.matchAll(re)) {
    const spec = m[1];
    if (spec.startsWith('.') || spec.startsWith('node:') || spec.startsWith('/')) continue;
    const parts = spec.split('/');
    const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
    if (!builtins.has(name)) names.add(name);
  }
  return names;
}

/** Every package named by the README's install commands (`npm install …`, `npm i …`, `pnpm add …`). */
export function installedByReadme(markdown) {
  const names = new Set();
  for (const m of markdown.matchAll(/^\s*(?:npm (?:install|i)|pnpm add|yarn add)\s+(.+)$/gm)) {
    for (const word of m[1].replace(/#.*/, '').trim().split(/\s+/)) {
      if (word.startsWith('-')) continue;
      const at = word.lastIndexOf('@');
      names.add(at > 0 ? word.slice(0, at) : word);
    }
  }
  return names;
}

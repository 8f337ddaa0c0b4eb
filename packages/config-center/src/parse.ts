import { extname } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { ConfigParseError } from './errors';
import { isPlainObject, type Tree } from './tree';

export type ConfigFormat = 'json' | 'yaml' | 'toml';

/** `.json` → json, `.yaml`/`.yml` → yaml, `.toml` → toml; anything else: yaml (a superset of JSON). */
export function formatOf(file: string): ConfigFormat {
  switch (extname(file).toLowerCase()) {
    case '.json':
      return 'json';
    case '.toml':
      return 'toml';
    default:
      return 'yaml';
  }
}

/** 1-based line and column of a 0-based offset. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: lines[lines.length - 1]!.length + 1 };
}

/**
 * Parses a config document. A syntax error becomes `ConfigParseError` with the file, line and column; a document
 * whose top level is not a mapping too (an empty document is `{}`).
 */
export function parseDocument(text: string, file: string, format: ConfigFormat = formatOf(file)): Tree {
  let doc: unknown;
  try {
    if (format === 'json') doc = JSON.parse(text);
    else if (format === 'toml') doc = parseToml(text);
    else doc = parseYaml(text, { prettyErrors: false });
  } catch (error) {
    throw toParseError(error, text, file);
  }
  if (doc === null || doc === undefined) return {};
  if (!isPlainObject(doc)) {
    throw new ConfigParseError(
      file,
      1,
      1,
      `the top level must be a mapping, got ${Array.isArray(doc) ? 'a list' : typeof doc}`,
    );
  }
  return doc;
}

function toParseError(error: unknown, text: string, file: string): ConfigParseError {
  const options = { cause: error };
  if (error instanceof YAMLParseError) {
    const pos = error.linePos?.[0] ?? lineColumn(text, error.pos[0]);
    const reason = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    return new ConfigParseError(file, pos.line, 'col' in pos ? pos.col : pos.column, reason, options);
  }
  if (error instanceof TomlError) {
    const reason = error.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
    return new ConfigParseError(file, error.line, error.column, reason, options);
  }
  const message = error instanceof Error ? error.message : String(error);
  // V8: "… in JSON at position 14" (Node 20), "… (line 2 column 5)" (Node 22+).
  const lc = /line (\d+) column (\d+)/.exec(message);
  if (lc) return new ConfigParseError(file, Number(lc[1]), Number(lc[2]), message.replace(/ \(line.*$/, ''), options);
  const pos = /at position (\d+)/.exec(message);
  if (pos) {
    const { line, column } = lineColumn(text, Number(pos[1]));
    return new ConfigParseError(file, line, column, message.replace(/ at position \d+.*$/, ''), options);
  }
  if (/Unexpected end of JSON input/.test(message)) {
    const { line, column } = lineColumn(text, text.length);
    return new ConfigParseError(file, line, column, message, options);
  }
  return new ConfigParseError(file, 1, 1, message, options);
}

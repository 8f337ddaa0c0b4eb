/**
 * `?filter=` as Consul's API documents it (https://developer.hashicorp.com/consul/api-docs/features/filtering):
 * matching operators `==`, `!=`, `is empty`, `is not empty`, `"v" in Sel`, `"v" not in Sel`, `Sel contains "v"`,
 * `Sel not contains "v"`, `Sel matches "re"`, `Sel not matches "re"`; `and`, `or`, `not` and parentheses with the
 * usual precedence; values quoted with `"` or backticks (bare numbers and booleans too). Selectors are dotted
 * paths into the endpoint's JSON (`Service.Meta.version`, `Service.Tags`, `Checks.Status`); a selector that finds
 * nothing makes `!=`, `not in`, `is empty`, `not contains` and `not matches` true, the others false. An expression
 * that does not parse is Consul's 400 "Failed to create boolean expression evaluator".
 */
import { ConsulHttpError } from './model';

type Token = { kind: 'str'; v: string } | { kind: 'word'; v: string } | { kind: 'op'; v: string };
type Match = { t: 'match'; sel: string[]; op: string; value?: string };
type Node = { t: 'and' | 'or'; a: Node; b: Node } | { t: 'not'; a: Node } | Match;

const bad = (why: string) => new ConsulHttpError(400, `Failed to create boolean expression evaluator: ${why}`);

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) i++;
    else if (c === '(' || c === ')') {
      out.push({ kind: 'op', v: c });
      i++;
    } else if (src.startsWith('==', i) || src.startsWith('!=', i)) {
      out.push({ kind: 'op', v: src.slice(i, i + 2) });
      i += 2;
    } else if (c === '"' || c === '`') {
      let j = i + 1;
      let v = '';
      while (j < src.length && src[j] !== c) {
        if (c === '"' && src[j] === '\\' && j + 1 < src.length) j++;
        v += src[j];
        j++;
      }
      if (j >= src.length) throw bad(`unterminated string at ${i + 1}`);
      out.push({ kind: 'str', v });
      i = j + 1;
    } else {
      const m = /^[A-Za-z0-9_.\-/:]+/.exec(src.slice(i));
      if (!m) throw bad(`unexpected "${c}" at ${i + 1}`);
      out.push({ kind: 'word', v: m[0] });
      i += m[0].length;
    }
  }
  return out;
}

/** Parses `src`; throws Consul's 400 on a syntax error. */
export function parseFilter(src: string): (input: unknown) => boolean {
  const toks = tokenize(src);
  let p = 0;
  const peek = () => toks[p];
  const isWord = (w: string) => peek()?.kind === 'word' && peek()?.v === w;
  /** Consumes the word `w` when it comes next. */
  const take = (w: string) => {
    if (!isWord(w)) return false;
    p++;
    return true;
  };
  const next = () => {
    const t = toks[p++];
    if (!t) throw bad('unexpected end of expression');
    return t;
  };
  const value = (): string => {
    const t = next();
    if (t.kind === 'str') return t.v;
    if (t.kind === 'word' && /^(-?\d+(\.\d+)?|true|false)$/.test(t.v)) return t.v;
    throw bad(`expected a value, found "${t.v}"`);
  };
  const selector = (): string[] => {
    const t = next();
    if (t.kind !== 'word' || /^\d/.test(t.v)) throw bad(`expected a selector, found "${t.v}"`);
    return t.v.split('.');
  };
  const match = (): Node => {
    if (peek()?.kind === 'str') {
      const v = value();
      const negate = take('not');
      if (!isWord('in')) throw bad(`expected "in" after "${v}"`);
      p++;
      return { t: 'match', sel: selector(), op: negate ? 'not in' : 'in', value: v };
    }
    const sel = selector();
    const t = next();
    if (t.kind === 'op' && (t.v === '==' || t.v === '!=')) return { t: 'match', sel, op: t.v, value: value() };
    if (t.kind === 'word' && t.v === 'is') {
      const negate = take('not');
      if (!isWord('empty')) throw bad('expected "empty"');
      p++;
      return { t: 'match', sel, op: negate ? 'is not empty' : 'is empty' };
    }
    let negate = false;
    let op = t;
    if (t.kind === 'word' && t.v === 'not') {
      negate = true;
      op = next();
    }
    if (op.kind === 'word' && (op.v === 'contains' || op.v === 'matches' || op.v === 'in')) {
      if (op.v === 'in') throw bad('"in" takes the value first: "<Value>" in <Selector>');
      return { t: 'match', sel, op: negate ? `not ${op.v}` : op.v, value: value() };
    }
    throw bad(`expected a matching operator after ${sel.join('.')}, found "${op.v}"`);
  };
  const primary = (): Node => {
    if (isWord('not')) {
      p++;
      return { t: 'not', a: primary() };
    }
    if (peek()?.kind === 'op' && peek()?.v === '(') {
      p++;
      const e = or();
      const close = next();
      if (close.v !== ')') throw bad('expected ")"');
      return e;
    }
    return match();
  };
  const and = (): Node => {
    let a = primary();
    while (isWord('and')) {
      p++;
      a = { t: 'and', a, b: primary() };
    }
    return a;
  };
  const or = (): Node => {
    let a = and();
    while (isWord('or')) {
      p++;
      a = { t: 'or', a, b: and() };
    }
    return a;
  };
  if (toks.length === 0) throw bad('empty expression');
  const tree = or();
  if (p < toks.length) throw bad(`unexpected "${toks[p]?.v}"`);
  return (input) => evaluate(tree, input);
}

const MISSING = Symbol('missing');

/** The values a selector reaches (a list selector on the way, like `Checks.Status`, reaches each element's). */
function select(input: unknown, sel: readonly string[]): unknown {
  let cur: unknown = input;
  for (let i = 0; i < sel.length; i++) {
    if (Array.isArray(cur)) return cur.map((x) => select(x, sel.slice(i))).filter((x) => x !== MISSING);
    if (cur === null || typeof cur !== 'object' || !((sel[i] as string) in cur)) return MISSING;
    cur = (cur as Record<string, unknown>)[sel[i] as string];
  }
  return cur === null || cur === undefined ? MISSING : cur;
}

function evaluate(n: Node, input: unknown): boolean {
  if (n.t === 'and' || n.t === 'or')
    return n.t === 'and' ? evaluate(n.a, input) && evaluate(n.b, input) : evaluate(n.a, input) || evaluate(n.b, input);
  if (n.t === 'not') return !evaluate(n.a, input);
  return evaluateMatch(n as Match, input);
}

function evaluateMatch(n: Match, input: unknown): boolean {
  const v = select(input, n.sel);
  const value = n.value ?? '';
  const negated = n.op.startsWith('not ') || n.op === '!=' || n.op === 'is empty';
  if (v === MISSING) return negated;
  const contains = () =>
    Array.isArray(v)
      ? v.map(String).includes(value)
      : typeof v === 'object'
        ? value in (v as object)
        : String(v).includes(value);
  switch (n.op) {
    case '==':
      return Array.isArray(v) ? false : String(v) === value;
    case '!=':
      return Array.isArray(v) ? true : String(v) !== value;
    case 'is empty':
    case 'is not empty': {
      const empty = Array.isArray(v)
        ? v.length === 0
        : typeof v === 'object'
          ? Object.keys(v as object).length === 0
          : String(v) === '';
      return n.op === 'is empty' ? empty : !empty;
    }
    case 'in':
    case 'contains':
      return contains();
    case 'not in':
    case 'not contains':
      return !contains();
    case 'matches':
    case 'not matches': {
      let re: RegExp;
      try {
        re = new RegExp(value);
      } catch (err) {
        throw bad(`invalid regular expression "${value}": ${(err as Error).message}`);
      }
      const hit = Array.isArray(v) ? v.some((x) => re.test(String(x))) : re.test(String(v));
      return n.op === 'matches' ? hit : !hit;
    }
    default:
      return false;
  }
}

/** `items` filtered by the request's `?filter=` (all of them without one). */
export function applyFilter<T>(items: T[], filter: string | null): T[] {
  if (filter === null || filter === '') return items;
  const keep = parseFilter(filter);
  return items.filter((x) => keep(x));
}

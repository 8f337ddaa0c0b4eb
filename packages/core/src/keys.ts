import { BallastError } from './errors';

export class InvalidKeyError extends BallastError {
  static readonly code = 'INVALID_KEY';
  constructor(message: string) {
    super(new.target.code, message);
  }
}

export interface KeyBuilderOptions {
  /** First segment of every key, joined by {@link keyPrefix}'s rule (`x` and `x:` both give `x:…`). Default `ballast`. */
  prefix?: string;
  /** The package, e.g. `queue`, `lock`. */
  scope: string;
  /**
   * What keys of one entity share a slot by: e.g. the queue name. Wrapped in `{…}` so on Redis Cluster all
   * keys one Lua script touches hash to one slot.
   */
  tag: string;
}

export interface KeyBuilder {
  /** `ballast:queue:{emails}` */
  readonly base: string;
  /** `key('wait')` → `ballast:queue:{emails}:wait`; parts are joined by `:`. */
  key(...parts: (string | number)[]): string;
}

/** `{value}`; rejects braces inside (Redis would hash on the wrong substring) and the empty tag (no tag at all). */
export function hashTag(value: string): string {
  if (value.length === 0) throw new InvalidKeyError('hash tag must not be empty: Redis ignores "{}"');
  if (/[{}]/.test(value)) throw new InvalidKeyError(`hash tag "${value}" must not contain "{" or "}"`);
  return `{${value}}`;
}

function checkSegment(what: string, value: string): void {
  if (value.length === 0) throw new InvalidKeyError(`${what} must not be empty`);
  if (/[{}]/.test(value)) throw new InvalidKeyError(`${what} "${value}" must not contain "{" or "}"`);
}

/**
 * The one rule every Ballast package joins a user's key prefix with its keys by: exactly one `:` between them.
 *
 * - `keyPrefix('myapp')` and `keyPrefix('myapp:')` are both `'myapp:'`, so `prefix: 'myapp'` gives
 *   `myapp:lock:{…}`, `myapp:events:all`, … in every package, and a prefix written with its separator means
 *   the same keys (a second `:` is never added).
 * - `keyPrefix('')` is `''`: no prefix at all (only where a package allows it — the event bus, whose default
 *   names are the plain `events:{type}`; the other packages require one and default to `ballast`).
 * - Braces are rejected: Redis Cluster hashes on the first `{…}` of a key, so a brace in the prefix would
 *   move keys that must share a slot into different ones.
 */
export function keyPrefix(prefix: string): string {
  if (prefix === '') return '';
  if (/[{}]/.test(prefix)) throw new InvalidKeyError(`key prefix "${prefix}" must not contain "{" or "}"`);
  return prefix.endsWith(':') ? prefix : `${prefix}:`;
}

/** `prefixKey('myapp', 'events:all')` → `myapp:events:all` by {@link keyPrefix}'s rule. */
export function prefixKey(prefix: string, key: string): string {
  return `${keyPrefix(prefix)}${key}`;
}

/** The one place a package builds its Redis keys. */
export function createKeyBuilder(options: KeyBuilderOptions): KeyBuilder {
  const prefix = options.prefix ?? 'ballast';
  checkSegment('key prefix', prefix);
  checkSegment('key scope', options.scope);
  const base = prefixKey(prefix, `${options.scope}:${hashTag(options.tag)}`);
  return {
    base,
    key: (...parts) => (parts.length === 0 ? base : `${base}:${parts.join(':')}`),
  };
}

// CRC16/XMODEM as Redis Cluster uses it.
const CRC_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

/** The Cluster slot (0–16383) of a key, honouring `{hash tags}` exactly as Redis does. */
export function hashSlot(key: string): number {
  const bytes = Buffer.from(key);
  let start = 0;
  let end = bytes.length;
  const open = bytes.indexOf(0x7b); // {
  if (open >= 0) {
    const close = bytes.indexOf(0x7d, open + 1); // }
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ CRC_TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  return crc % 16384;
}

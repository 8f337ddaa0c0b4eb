/**
 * Which config values are secrets: a key whose last path segment (`db.password`, `stripe/apiKey`) names one.
 * The one rule every operator surface (the `ballast` CLI, `@ballast/dashboard`) shows config by.
 */
const SECRET_KEY = /(pass(word)?|secret|token|api[_-]?key|private[_-]?key|credentials?)$/i;

/** The text shown instead of a secret value. */
export const REDACTED = '<redacted>';

/** True when `key` (dotted or slash-separated path) names a secret. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key.split(/[./]/).at(-1) ?? key);
}

/** A copy of flat `entries` with every secret value replaced by `REDACTED`. */
export function redactEntries(entries: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entries)) out[k] = isSecretKey(k) ? REDACTED : v;
  return out;
}

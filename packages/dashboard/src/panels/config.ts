/**
 * Config: the current tree, recorded versions, a diff between two, rollback (a new version restoring an old
 * one, as `config.rollback` does) and flags — a key whose current value is a boolean can be switched, as a new
 * version committed against the version read (a concurrent commit makes it a 409, never a lost write). Values
 * are redacted by config-center's rule (`redactEntries`) everywhere.
 */
import { diffEntries, redactEntries, unflatten, type VersionRecord } from '@ballast/config-center';
import { badRequest, notFound } from '../errors';
import type { DashboardConfig } from '../options';
import type { Route, RouteContext } from '../route';

const redacted = (r: VersionRecord) => ({ ...r, entries: redactEntries(r.entries) });

export function configRoutes(c: DashboardConfig): Route[] {
  const versionNumber = (raw: unknown, field: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw badRequest(`${field} must be a positive integer version`);
    return n;
  };
  const version = async (n: number) => {
    const r = await c.store.getVersion(n);
    if (!r) throw notFound(`config "${c.name}" has no recorded version ${n}`);
    return r;
  };
  const flagKey = (raw: unknown): string => {
    if (typeof raw !== 'string' || raw.length === 0 || raw.length > 512) throw badRequest('key must be a config key');
    return raw;
  };
  return [
    {
      method: 'GET',
      path: 'config',
      async run() {
        const state = await c.store.read();
        const entries = redactEntries(state.entries);
        return { name: c.name, version: state.version, entries, tree: unflatten(entries) };
      },
    },
    {
      method: 'GET',
      path: 'config/history',
      async run() {
        return { name: c.name, versions: (await c.store.history()).map(redacted) };
      },
    },
    {
      method: 'GET',
      path: 'config/diff',
      async run(ctx) {
        const from = await version(versionNumber(ctx.query.get('from'), 'from'));
        const toRaw = ctx.query.get('to');
        const to = toRaw ? await version(versionNumber(toRaw, 'to')) : await c.store.read();
        return {
          from: from.version,
          to: to.version,
          changes: diffEntries(redactEntries(from.entries), redactEntries(to.entries)),
        };
      },
    },
    {
      method: 'POST',
      path: 'config/rollback',
      action: (ctx: RouteContext) => ({
        name: 'config.rollback',
        target: c.name,
        ids: [String(versionNumber(ctx.body.version, 'version'))],
      }),
      async run(ctx) {
        const target = versionNumber(ctx.body.version, 'version');
        const record = await version(target);
        const current = await c.store.read();
        const made = await c.store.commit(current.version, record.entries, {
          at: Date.now(),
          rollbackOf: target,
          message: `dashboard rollback of ${c.name} to version ${target}`,
        });
        return {
          version: made.version,
          rollbackOf: target,
          changes: diffEntries(redactEntries(current.entries), redactEntries(record.entries)),
        };
      },
    },
    {
      method: 'POST',
      path: 'config/flag',
      action: (ctx: RouteContext) => ({ name: 'config.flag', target: c.name, ids: [flagKey(ctx.body.key)] }),
      async run(ctx) {
        const key = flagKey(ctx.body.key);
        const value = ctx.body.value;
        if (typeof value !== 'boolean') throw badRequest('value must be true or false');
        const current = await c.store.read();
        if (!Object.hasOwn(current.entries, key)) throw notFound(`config "${c.name}" has no key ${key}`);
        if (typeof current.entries[key] !== 'boolean') {
          throw badRequest(`config key ${key} is not a flag (its value is not a boolean)`);
        }
        // A key the redaction rule hides (a secret's name) is not switched here: its value would show in the
        // answer and in the version's message.
        if (redactEntries({ [key]: true })[key] !== true) throw badRequest(`config key ${key} is redacted, not a flag`);
        if (current.entries[key] === value) return { version: current.version, key, value, changed: false };
        const made = await c.store.commit(
          current.version,
          { ...current.entries, [key]: value },
          { at: Date.now(), message: `dashboard: ${key} = ${value}` },
        );
        return { version: made.version, key, value, changed: true };
      },
    },
  ];
}

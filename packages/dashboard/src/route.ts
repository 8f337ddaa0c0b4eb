/** One API route of a panel: a method, a path pattern under `<basePath>/api/`, and what it runs. */
import type { IncomingMessage } from 'node:http';
import { badRequest } from './errors';
import type { DashboardAction } from './options';

export interface RouteContext {
  req: IncomingMessage;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The parsed JSON body of a POST (an empty object when there is none). */
  body: Record<string, unknown>;
}

export interface Route {
  method: 'GET' | 'POST';
  /** Segments under `api/`, `:name` binds one segment (URL-decoded). */
  path: string;
  /** POST routes name the action `authorize` decides on. */
  action?: (ctx: RouteContext) => DashboardAction;
  run(ctx: RouteContext): Promise<unknown>;
}

/** Binds `segments` against a route's pattern, or undefined when it does not match. */
export function match(pattern: string, segments: readonly string[]): Record<string, string> | undefined {
  const parts = pattern.split('/');
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const s = segments[i]!;
    if (p.startsWith(':')) params[p.slice(1)] = s;
    else if (p !== s) return undefined;
  }
  return params;
}

/** A non-negative integer query parameter, or `fallback`. */
export function intParam(query: URLSearchParams, name: string, fallback: number, max = 1_000): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > max) throw badRequest(`${name} must be an integer from 0 to ${max}`);
  return n;
}

/** A list of non-empty strings in the body, e.g. `{ ids: [...] }`. */
export function stringList(body: Record<string, unknown>, field: string): string[] {
  const v = body[field];
  if (!Array.isArray(v) || v.length === 0 || v.length > 1_000 || !v.every((x) => typeof x === 'string' && x)) {
    throw badRequest(`${field} must be a list of 1 to 1000 ids`);
  }
  return v as string[];
}

import type { Clock } from '@ballast/core';

interface Entry {
  service: string;
  expiresAt: number;
  status: number;
  statusText: string;
  headers: [string, string][];
  body: ArrayBuffer | null;
}

/** Statuses whose `Response` may not have a body. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * A short in-memory cache of successful GET responses (seed 000's front-end API client: 5 min, 100 entries),
 * least recently used evicted first. Bodies are buffered once and every hit gets a fresh `Response`, so
 * callers can read it as usual.
 *
 * The key is method + service + path + `Accept`, plus the request's credentials (`Authorization`, `Cookie`):
 * one user's cached answer is never served to another.
 */
export class ResponseCache {
  readonly #entries = new Map<string, Entry>();

  constructor(
    readonly ttlMs: number,
    readonly maxEntries: number,
    private readonly clock: Clock,
  ) {}

  static key(method: string, service: string, path: string, headers: Headers): string {
    const part = (name: string) => headers.get(name) ?? '';
    return [method, service, path, part('accept'), part('authorization'), part('cookie')].join('\u0000');
  }

  get size(): number {
    return this.#entries.size;
  }

  /** A fresh `Response` for `key` while it is within its TTL; undefined otherwise. */
  get(key: string): Response | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (this.clock.monotonic() >= entry.expiresAt) {
      this.#entries.delete(key);
      return undefined;
    }
    // Most recently used last: Map keeps insertion order.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return new Response(entry.body === null ? null : entry.body.slice(0), {
      status: entry.status,
      statusText: entry.statusText,
      headers: entry.headers,
    });
  }

  /**
   * Buffers `response`'s body, stores it unless the response says `Cache-Control: no-store`, and returns a
   * fresh `Response` for the caller (the original's body has been read).
   */
  async store(key: string, service: string, response: Response): Promise<Response> {
    const body = NULL_BODY.has(response.status) ? null : await response.arrayBuffer();
    const headers: [string, string][] = [];
    response.headers.forEach((value, name) => {
      headers.push([name, value]);
    });
    const entry: Entry = {
      service,
      expiresAt: this.clock.monotonic() + this.ttlMs,
      status: response.status,
      statusText: response.statusText,
      headers,
      body,
    };
    if (!/\bno-store\b/i.test(response.headers.get('cache-control') ?? '')) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      while (this.#entries.size > this.maxEntries) {
        const oldest = this.#entries.keys().next().value as string;
        this.#entries.delete(oldest);
      }
    }
    return new Response(body === null ? null : body.slice(0), {
      status: entry.status,
      statusText: entry.statusText,
      headers: entry.headers,
    });
  }

  /** Forgets every entry, or those of one service. */
  clear(service?: string): void {
    if (service === undefined) {
      this.#entries.clear();
      return;
    }
    for (const [key, entry] of this.#entries) if (entry.service === service) this.#entries.delete(key);
  }
}

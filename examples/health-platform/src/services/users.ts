/**
 * user-service: profiles. A NestJS app on @ballast/nestjs (src/legacy/user-service.ts, legacy decorators —
 * @WithLock('user:{userId}') and @OnEvent — as a NestJS team would write it), served by `ctx.serve` like
 * every other service: same instance ids, discovery registration and /health.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Ctx } from '../context';
import { importLegacy } from '../legacy';

/** The shape of the legacy module this file uses (kept here so the standard-decorator build never compiles it). */
interface LegacyModule {
  createUserApp(opts: {
    deps: { record(kind: string, text: string, data?: Record<string, unknown>): void };
    bus: ReturnType<Ctx['bus']>;
    locks: Ctx['locks'];
    onError(error: unknown): void;
  }): Promise<{ handler: (req: IncomingMessage, res: ServerResponse) => void; close(): Promise<void> }>;
}

export async function startUserService(ctx: Ctx) {
  const { createUserApp } = await importLegacy<LegacyModule>('user-service');
  const app = await createUserApp({
    deps: { record: (kind, text, data) => ctx.activity.add('user-service', kind, text, data) },
    bus: ctx.bus('user-service'),
    locks: ctx.locks,
    onError: (e) => ctx.log.warn({ err: e, service: 'user-service' }, 'request failed'),
  });
  const running = await ctx.serve('user-service', app.handler);
  return {
    ...running,
    // Out of discovery and no more requests first, then Nest's shutdown (the @OnEvent subscriptions).
    close: async () => {
      await running.close();
      await app.close();
    },
  };
}

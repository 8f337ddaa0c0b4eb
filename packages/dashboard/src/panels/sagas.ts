/**
 * Sagas: in-flight sagas by status (running / compensating — the store's recovery index), one saga's step
 * timeline with its compensations, the compensation dead-letter queue (retry), cancel.
 */
import { badRequest, notFound } from '../errors';
import type { DashboardSagas } from '../options';
import { intParam, type Route } from '../route';

export function sagaRoutes(sagas: DashboardSagas, names: readonly string[] | undefined): Route[] {
  return [
    {
      method: 'GET',
      path: 'sagas',
      async run(ctx) {
        const raw = ctx.query.get('status') || undefined;
        if (raw !== undefined && raw !== 'running' && raw !== 'compensating') {
          throw badRequest('status must be running or compensating (finished sagas are not indexed)');
        }
        const status: 'running' | 'compensating' | undefined = raw;
        const cursor = ctx.query.get('cursor') || undefined;
        const limit = intParam(ctx.query, 'limit', 50, 500) || 50;
        const query = { limit, ...(status ? { status } : {}), ...(cursor ? { cursor } : {}) };
        if (!names) return sagas.list(query);
        const pages = await Promise.all(names.map((name) => sagas.list({ ...query, name })));
        return { sagas: pages.flatMap((p) => p.sagas) };
      },
    },
    {
      method: 'GET',
      path: 'sagas/dlq',
      async run(ctx) {
        const after = ctx.query.get('after') || undefined;
        const count = intParam(ctx.query, 'limit', 50, 500) || 50;
        return { deadLetters: await sagas.deadLetters({ count, ...(after ? { after } : {}) }) };
      },
    },
    {
      method: 'POST',
      path: 'sagas/dlq/:id/retry',
      action: (ctx) => ({ name: 'saga.dlq.retry', target: ctx.params.id!, ids: [ctx.params.id!] }),
      async run(ctx) {
        const state = await sagas.retryDeadLetter(ctx.params.id!);
        return { retried: ctx.params.id, saga: state };
      },
    },
    {
      method: 'GET',
      path: 'sagas/:id',
      async run(ctx) {
        const saga = await sagas.get(ctx.params.id!);
        if (!saga) throw notFound(`no saga "${ctx.params.id}"`);
        return saga;
      },
    },
    {
      method: 'POST',
      path: 'sagas/:id/cancel',
      action: (ctx) => ({ name: 'saga.cancel', target: ctx.params.id! }),
      async run(ctx) {
        const reason =
          typeof ctx.body.reason === 'string' && ctx.body.reason ? ctx.body.reason : 'cancelled from the dashboard';
        const cancelled = await sagas.cancel(ctx.params.id!, reason);
        if (!cancelled) throw notFound(`saga "${ctx.params.id}" is missing or already finished`);
        return { cancelled: ctx.params.id };
      },
    },
  ];
}

/** The live summary: the DLQ size (first 100) and in-flight count (first page). */
export async function sagaSummary(sagas: DashboardSagas) {
  const [dead, inFlight] = await Promise.all([sagas.deadLetters({ count: 100 }), sagas.list({ limit: 100 })]);
  return { dead: dead.length, inFlight: inFlight.sagas.length };
}

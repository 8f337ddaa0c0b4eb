/** Event streams: per bus and event type, the consumer groups (pending, lag, consumers) and the DLQ. */
import { badRequest, notFound } from '../errors';
import type { DashboardStream } from '../options';
import { intParam, type Route, type RouteContext } from '../route';

// The bus's methods take its own event names and stream ids; the dashboard passes what the URL names.
type Loose = never;
const STREAM_ID = /^\d+-\d+$/;

export function streamRoutes(streams: readonly DashboardStream[]): Route[] {
  const byName = new Map(streams.map((s) => [s.name ?? 'bus', s]));
  const stream = (ctx: RouteContext) => {
    const s = byName.get(ctx.params.bus!);
    if (!s) throw notFound(`no bus named "${ctx.params.bus}"`);
    const type = ctx.params.type!;
    if (!s.types.includes(type)) throw notFound(`bus "${ctx.params.bus}" shows no event type "${type}"`);
    return { bus: s.bus, type: type as Loose };
  };
  const entryId = (ctx: RouteContext) => {
    const id = ctx.params.id!;
    if (!STREAM_ID.test(id)) throw badRequest(`"${id}" is not a stream entry id`);
    return id as Loose;
  };
  const dlqAction = (verb: 'replay' | 'delete'): Route => ({
    method: 'POST',
    path: `streams/:bus/:type/dlq/:id/${verb}`,
    action: (ctx) => ({
      name: `stream.dlq.${verb}`,
      target: `${ctx.params.bus}/${ctx.params.type}`,
      ids: [ctx.params.id!],
    }),
    async run(ctx) {
      const { bus, type } = stream(ctx);
      const id = entryId(ctx);
      if (verb === 'replay') {
        const newId = await bus.dlq.replay(type, id);
        if (!newId) throw notFound(`no dead letter ${id}`);
        return { replayed: id, newId };
      }
      if (!(await bus.dlq.delete(type, id))) throw notFound(`no dead letter ${id}`);
      return { deleted: id };
    },
  });
  return [
    {
      method: 'GET',
      path: 'streams',
      async run() {
        const out = [];
        for (const [name, s] of byName) {
          for (const type of s.types) {
            const groups = await s.bus.groups(type as Loose);
            const dlq = await s.bus.dlq.list(type as Loose, { count: 100 });
            out.push({ bus: name, type, groups, deadLetters: dlq.length, deadLettersCapped: dlq.length === 100 });
          }
        }
        return { streams: out };
      },
    },
    {
      method: 'GET',
      path: 'streams/:bus/:type/dlq',
      async run(ctx) {
        const { bus, type } = stream(ctx);
        const after = ctx.query.get('after');
        if (after && !STREAM_ID.test(after)) throw badRequest(`after "${after}" is not a stream entry id`);
        const count = intParam(ctx.query, 'limit', 50, 500) || 50;
        return { deadLetters: await bus.dlq.list(type, { count, ...(after ? { after: after as Loose } : {}) }) };
      },
    },
    {
      method: 'GET',
      path: 'streams/:bus/:type/dlq/:id',
      async run(ctx) {
        const { bus, type } = stream(ctx);
        const letter = await bus.dlq.inspect(type, entryId(ctx));
        if (!letter) throw notFound(`no dead letter ${ctx.params.id}`);
        return letter;
      },
    },
    dlqAction('replay'),
    dlqAction('delete'),
  ];
}

/** The live summary: pending, lag and DLQ size (first 100) by `bus/type`. */
export async function streamSummary(streams: readonly DashboardStream[]) {
  const out: Record<string, unknown> = {};
  for (const s of streams) {
    for (const type of s.types) {
      const groups = await s.bus.groups(type as Loose);
      const dead = await s.bus.dlq.list(type as Loose, { count: 100 });
      out[`${s.name ?? 'bus'}/${type}`] = {
        pending: groups.reduce((n, g) => n + g.pending, 0),
        lag: groups.reduce((n, g) => n + g.lag, 0),
        dead: dead.length,
      };
    }
  }
  return out;
}

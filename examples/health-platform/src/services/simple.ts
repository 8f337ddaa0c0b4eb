/**
 * The simulated services: rag-service (indexes health records on health_record.updated, answers queries),
 * laoke-service (TCM knowledge), soer-service (lifestyle plans on recommendation.generated) and the four
 * diagnosis services look, listen, inquiry (which also keeps consultation records) and palpation. Their answers
 * come from `knowledge.ts`: a deterministic rule base scored against the symptoms, and a small retrieval index.
 */
import { randomUUID } from 'node:crypto';
import type { Ctx } from '../context';
import { HttpError, Router, requireFields } from '../http';
import { diagnoseBy, type Method, RetrievalIndex, recommend } from './knowledge';

/** A record's changes as searchable text: `{ metrics: { heart_rate: 72 } }` → "metrics heart_rate 72". */
const asText = (value: unknown): string =>
  value !== null && typeof value === 'object'
    ? Object.entries(value)
        .map(([k, v]) => `${k} ${asText(v)}`)
        .join(' ')
    : String(value);

export async function startRagService(ctx: Ctx) {
  const index = new RetrievalIndex();
  const bus = ctx.bus('rag-service');
  await bus.subscribe(
    'health_record.updated',
    async (event) => {
      const user = event.user_id ?? 'anonymous';
      index.add(`${event.data.recordId}:${event.event_id}`, user, asText(event.data.changes ?? {}));
      ctx.activity.add('rag-service', 'indexed', `record ${event.data.recordId} indexed for retrieval`, {
        userId: user,
      });
    },
    { group: 'rag-service.indexer' },
  );
  const router = new Router();
  router.post('/query', (req) => {
    const { userId, question } = requireFields<{ userId: string; question: string }>(req.body, ['userId', 'question']);
    const hits = index.search(userId, question);
    return {
      question,
      context: hits,
      answer: hits.length
        ? `${hits.length} of ${index.count(userId)} records mention it; best match: ${hits[0]!.text}`
        : `none of ${index.count(userId)} records mention it`,
    };
  });
  // Two instances: the gateway's round-robin through discovery is visible in /whoami.
  return ctx.serve('rag-service', router, { count: 2 });
}

export async function startLaokeService(ctx: Ctx) {
  const router = new Router();
  // Issued recommendations (the consultation saga withdraws one when the consultation fails).
  const issued = new Map<string, { userId?: string; syndrome: string }>();
  router.post('/recommend', (req) => {
    const { symptoms, userId } = requireFields<{ symptoms: string[]; userId?: string }>(req.body, ['symptoms']);
    const r = recommend(symptoms);
    const recommendationId = `lk-${randomUUID().slice(0, 8)}`;
    issued.set(recommendationId, { ...(userId ? { userId } : {}), syndrome: r.syndrome });
    return { agent: 'laoke', recommendationId, ...r };
  });
  router.delete('/recommendations/:id', (req) => {
    const withdrawn = issued.delete(req.params.id!);
    ctx.activity.add('laoke-service', 'compensated', `recommendation ${req.params.id} withdrawn (compensation)`);
    return { withdrawn };
  });
  return ctx.serve('laoke-service', router);
}

export async function startSoerService(ctx: Ctx) {
  const plans = new Map<string, string[]>();
  const bus = ctx.bus('soer-service');
  await bus.subscribe(
    'recommendation.generated',
    async (event) => {
      const user = event.user_id ?? 'anonymous';
      plans.set(user, event.data.items.map(String));
      ctx.activity.add(
        'soer-service',
        'plan',
        `lifestyle plan updated from recommendation ${event.data.recommendationId}`,
        { userId: user },
      );
    },
    { group: 'soer-service.plans' },
  );
  const router = new Router();
  // Draft plans of running consultations (withdrawn by the saga's compensation when the consultation fails).
  const drafts = new Map<string, { userId: string; plan: string[] }>();
  router.post('/plan', (req) => {
    const { userId } = requireFields<{ userId: string }>(req.body, ['userId']);
    const plan = plans.get(userId) ?? ['8 h sleep', '30 min walk'];
    const draftId = `plan-${randomUUID().slice(0, 8)}`;
    drafts.set(draftId, { userId, plan });
    return { agent: 'soer', draftId, plan };
  });
  router.delete('/plans/:id', (req) => {
    const withdrawn = drafts.delete(req.params.id!);
    ctx.activity.add('soer-service', 'compensated', `draft plan ${req.params.id} withdrawn (compensation)`);
    return { withdrawn };
  });
  return ctx.serve('soer-service', router);
}

const METHODS: Method[] = ['look', 'listen', 'inquiry', 'palpation'];

export async function startDiagnosisServices(ctx: Ctx) {
  const consultations = new Map<string, { userId: string; data: unknown }>();
  const started = [];
  for (const kind of METHODS) {
    const router = new Router();
    router.post('/diagnose', (req) => {
      const { symptoms } = requireFields<{ userId: string; symptoms: string[] }>(req.body, ['userId', 'symptoms']);
      return diagnoseBy(kind, symptoms);
    });
    if (kind === 'inquiry') {
      router.post('/consultations', (req) => {
        const { userId, data } = requireFields<{ userId: string; data: unknown }>(req.body, ['userId']);
        const id = `cons-${randomUUID().slice(0, 8)}`;
        consultations.set(id, { userId, data });
        return { consultationId: id };
      });
      router.delete('/consultations/:id', (req) => {
        if (!consultations.delete(req.params.id!)) throw new HttpError(404, `no consultation ${req.params.id}`);
        ctx.activity.add('inquiry-service', 'compensated', `consultation ${req.params.id} deleted (compensation)`);
        return { deleted: true };
      });
    }
    started.push(await ctx.serve(`${kind}-service`, router));
  }
  return started;
}

/**
 * The simulated services: rag-service (indexes health records on health_record.updated, answers queries),
 * laoke-service (TCM knowledge), soer-service (lifestyle plans on recommendation.generated) and the four
 * diagnosis services look, listen, inquiry (which also keeps consultation records) and palpation.
 */
import { randomUUID } from 'node:crypto';
import type { Ctx } from '../context';
import { HttpError, Router, requireFields } from '../http';

export async function startRagService(ctx: Ctx) {
  const index = new Map<string, string[]>();
  const bus = ctx.bus('rag-service');
  await bus.subscribe(
    'health_record.updated',
    async (event) => {
      const user = event.user_id ?? 'anonymous';
      index.set(user, [...(index.get(user) ?? []), event.data.recordId]);
      ctx.activity.add('rag-service', 'indexed', `record ${event.data.recordId} indexed for retrieval`, {
        userId: user,
      });
    },
    { group: 'rag-service.indexer' },
  );
  const router = new Router();
  router.post('/query', (req) => {
    const { userId, question } = requireFields<{ userId: string; question: string }>(req.body, ['userId', 'question']);
    return {
      question,
      context: index.get(userId) ?? [],
      answer: `Based on ${(index.get(userId) ?? []).length} records: keep a regular routine.`,
    };
  });
  // Two instances: the gateway's round-robin through discovery is visible in /whoami.
  return ctx.serve('rag-service', router, 2);
}

export async function startLaokeService(ctx: Ctx) {
  const router = new Router();
  router.post('/recommend', (req) => {
    requireFields<{ symptoms: string[] }>(req.body, ['symptoms']);
    return { agent: 'laoke', herbs: ['astragalus', 'jujube'], diet: 'warm, light meals' };
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
  router.post('/plan', (req) => {
    const { userId } = requireFields<{ userId: string }>(req.body, ['userId']);
    return { agent: 'soer', plan: plans.get(userId) ?? ['8 h sleep', '30 min walk'] };
  });
  return ctx.serve('soer-service', router);
}

const FINDINGS: Record<string, string> = {
  look: 'pale tongue, thin white coating',
  listen: 'weak voice',
  inquiry: 'fatigue after meals, poor sleep',
  palpation: 'thready, weak pulse',
};

export async function startDiagnosisServices(ctx: Ctx) {
  const consultations = new Map<string, { userId: string; data: unknown }>();
  const started = [];
  for (const kind of Object.keys(FINDINGS)) {
    const router = new Router();
    router.post('/diagnose', (req) => {
      requireFields<{ userId: string }>(req.body, ['userId']);
      return { method: kind, finding: FINDINGS[kind] };
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

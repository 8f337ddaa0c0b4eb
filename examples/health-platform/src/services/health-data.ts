/**
 * health-data-service: health records and seed 000's health-data upload saga
 * (validate_user → save_health_data → update_blockchain → trigger_ai_analysis, compensated in reverse).
 * Publishes health_record.updated; handles diagnosis.completed (attaches the diagnosis to the record).
 * A compensation that fails after its retries lands in the saga DLQ and raises a system.alert.
 */
import { randomUUID } from 'node:crypto';
import { defineSaga, isSagaFailedError } from '@ballast/saga';
import type { Ctx } from '../context';
import { HttpError, Router, requireFields, send } from '../http';
import type { SagaFeed } from '../sagas';

interface HealthRecord {
  recordId: string;
  userId: string;
  metrics: Record<string, number>;
  createdAt: string;
  consultations: string[];
  diagnoses: string[];
}

/**
 * Health records live in Redis (one hash of JSON values under the run's prefix) so every health-data-service
 * instance — in any process — sees the same records, and a saga another instance resumes finds the record the
 * dead one saved. In memory when the demo runs without Redis (one process).
 */
class RecordStore {
  readonly #memory = new Map<string, HealthRecord>();
  readonly #key: string;
  constructor(readonly ctx: Ctx) {
    this.#key = `${ctx.infra.prefix}:health-data:records`;
  }

  async get(id: string): Promise<HealthRecord | undefined> {
    const redis = this.ctx.infra.redis;
    if (!redis) return this.#memory.get(id);
    const raw = await redis.hget(this.#key, id);
    return raw ? (JSON.parse(raw) as HealthRecord) : undefined;
  }
  async put(r: HealthRecord): Promise<void> {
    const redis = this.ctx.infra.redis;
    if (!redis) return void this.#memory.set(r.recordId, r);
    await redis.hset(this.#key, r.recordId, JSON.stringify(r));
  }
  async delete(id: string): Promise<void> {
    const redis = this.ctx.infra.redis;
    if (!redis) return void this.#memory.delete(id);
    await redis.hdel(this.#key, id);
  }
  /** A user's records, oldest first (the demo's handful of records: one HVALS). */
  async byUser(userId: string): Promise<HealthRecord[]> {
    const redis = this.ctx.infra.redis;
    const all = redis
      ? (await redis.hvals(this.#key)).map((raw) => JSON.parse(raw) as HealthRecord)
      : [...this.#memory.values()];
    return all.filter((r) => r.userId === userId).sort((x, y) => x.createdAt.localeCompare(y.createdAt));
  }
}

interface UploadCtx {
  userId: string;
  metrics: Record<string, number>;
  recordId: string;
  txId?: string;
  taskId?: string;
}

/** `instance`: which health-data-service instance this is (the demo runs 1 and 2, in separate processes). */
export async function startHealthDataService(ctx: Ctx, feed: SagaFeed, instance = 1) {
  const records = new RecordStore(ctx);
  const bus = ctx.bus('health-data-service');
  const c = ctx.client;
  const key = (info: { idempotencyKey: string }) => ({ headers: { 'Idempotency-Key': info.idempotencyKey } });

  const upload = defineSaga<UploadCtx>('health-data-upload', {
    steps: [
      { name: 'validate_user', run: async (x) => void (await c.get('user-service', `/users/${x.userId}`)) },
      {
        name: 'save_health_data',
        run: async (x) => {
          await records.put({
            recordId: x.recordId,
            userId: x.userId,
            metrics: x.metrics,
            createdAt: new Date().toISOString(),
            consultations: [],
            diagnoses: [],
          });
        },
        compensate: async (x) => {
          await records.delete(x.recordId);
          ctx.activity.add('health-data-service', 'compensated', `record ${x.recordId} deleted (compensation)`);
        },
      },
      {
        name: 'update_blockchain',
        run: async (x, info) => {
          const r = await c.post<{ txId: string }>(
            'blockchain-service',
            '/records',
            { recordId: x.recordId, userId: x.userId, payload: x.metrics },
            key(info),
          );
          return { txId: r.txId };
        },
        compensate: async (x, info) => {
          await c.post('blockchain-service', `/records/${x.recordId}/rollback`, {}, key(info));
        },
      },
      {
        name: 'trigger_ai_analysis',
        run: async (x, info) => {
          const r = await c.post<{ jobId: string }>(
            'xiaoke-service',
            '/tasks',
            {
              kind: 'analyze_health_data',
              priority: 'high',
              data: { userId: x.userId, recordId: x.recordId, metrics: x.metrics },
            },
            key(info),
          );
          return { taskId: r.jobId };
        },
        compensate: async (x) => {
          if (x.taskId) await c.post('xiaoke-service', `/tasks/${x.taskId}/cancel`, {});
        },
      },
    ],
  });

  const orchestrator = feed.orchestrator(
    ctx,
    'health-data-service',
    [upload],
    async (e) => {
      // Seed 003: a compensation that failed after its retries → DLQ (done by the orchestrator) → alert.
      await bus.publish(
        'system.alert',
        {
          severity: 'critical',
          message: `compensation ${e.step} of ${e.saga} failed: ${e.error.message}`,
          component: 'saga',
          sagaId: e.sagaId,
        },
        { correlationId: e.sagaId },
      );
    },
    `health-data-service-${instance}`,
  );

  await bus.subscribe(
    'diagnosis.completed',
    async (event) => {
      const record = (await records.byUser(event.user_id ?? '')).at(-1);
      if (record) {
        record.diagnoses.push(event.data.diagnosisId);
        await records.put(record);
      }
      ctx.activity.add(
        'health-data-service',
        'diagnosis-saved',
        `diagnosis ${event.data.diagnosisId} saved to the health record`,
        {
          userId: event.user_id,
        },
      );
    },
    { group: 'health-data-service.diagnoses' },
  );

  const router = new Router();
  router.post('/health-data', async (req, res) => {
    const { userId, metrics } = requireFields<{ userId: string; metrics: Record<string, number> }>(req.body, [
      'userId',
      'metrics',
    ]);
    const recordId = `rec-${randomUUID().slice(0, 8)}`;
    try {
      const done = await orchestrator.run(upload, { userId, metrics, recordId }, { sagaId: `health_data_${recordId}` });
      await bus.publish('health_record.updated', { recordId, changes: { metrics } }, { userId });
      return {
        recordId,
        txId: done.txId,
        taskId: done.taskId,
        status: 'completed',
        sagaId: `health_data_${recordId}`,
        instance: `health-data-service-${instance}`,
      };
    } catch (error) {
      if (!isSagaFailedError(error)) throw error;
      return send(res, 502, {
        error: error.message,
        sagaId: error.sagaId,
        status: error.status,
        failedStep: error.failedStep,
        compensations: error.compensations,
      });
    }
  });
  router.get('/records/:id', async (req) => {
    const r = await records.get(req.params.id!);
    if (!r) throw new HttpError(404, `no record ${req.params.id}`);
    return r;
  });
  router.get('/users/:userId/records', (req) => records.byUser(req.params.userId!));
  router.patch('/records/:id/consultation', async (req) => {
    const { consultationId } = requireFields<{ consultationId: string }>(req.body, ['consultationId']);
    const r = await records.get(req.params.id!);
    if (!r) throw new HttpError(404, `no record ${req.params.id}`);
    if (!r.consultations.includes(consultationId)) r.consultations.push(consultationId);
    await records.put(r);
    await bus.publish(
      'health_record.updated',
      { recordId: r.recordId, changes: { consultation: consultationId } },
      { userId: r.userId },
    );
    return r;
  });
  router.post('/records/:id/revert-consultation', async (req) => {
    const { consultationId } = requireFields<{ consultationId: string }>(req.body, ['consultationId']);
    const r = await records.get(req.params.id!);
    if (r) {
      r.consultations = r.consultations.filter((x) => x !== consultationId);
      await records.put(r);
    }
    return { reverted: Boolean(r) };
  });

  return ctx.serve('health-data-service', router, {
    first: instance,
    dependsOn: ['user-service', 'blockchain-service', 'xiaoke-service'],
  });
}

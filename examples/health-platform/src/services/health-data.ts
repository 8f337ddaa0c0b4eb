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

interface UploadCtx {
  userId: string;
  metrics: Record<string, number>;
  recordId: string;
  txId?: string;
  taskId?: string;
}

export async function startHealthDataService(ctx: Ctx, feed: SagaFeed) {
  const records = new Map<string, HealthRecord>();
  const bus = ctx.bus('health-data-service');
  const c = ctx.client;
  const key = (info: { idempotencyKey: string }) => ({ headers: { 'Idempotency-Key': info.idempotencyKey } });

  const upload = defineSaga<UploadCtx>('health-data-upload', {
    steps: [
      { name: 'validate_user', run: async (x) => void (await c.get('user-service', `/users/${x.userId}`)) },
      {
        name: 'save_health_data',
        run: (x) => {
          records.set(x.recordId, {
            recordId: x.recordId,
            userId: x.userId,
            metrics: x.metrics,
            createdAt: new Date().toISOString(),
            consultations: [],
            diagnoses: [],
          });
        },
        compensate: (x) => {
          records.delete(x.recordId);
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

  const orchestrator = feed.orchestrator(ctx, 'health-data-service', async (e) => {
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
  });

  await bus.subscribe(
    'diagnosis.completed',
    async (event) => {
      const record = [...records.values()].filter((r) => r.userId === event.user_id).at(-1);
      if (record) record.diagnoses.push(event.data.diagnosisId);
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
      return { recordId, txId: done.txId, taskId: done.taskId, status: 'completed', sagaId: `health_data_${recordId}` };
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
  router.get('/records/:id', (req) => {
    const r = records.get(req.params.id!);
    if (!r) throw new HttpError(404, `no record ${req.params.id}`);
    return r;
  });
  router.get('/users/:userId/records', (req) => [...records.values()].filter((r) => r.userId === req.params.userId));
  router.patch('/records/:id/consultation', async (req) => {
    const { consultationId } = requireFields<{ consultationId: string }>(req.body, ['consultationId']);
    const r = records.get(req.params.id!);
    if (!r) throw new HttpError(404, `no record ${req.params.id}`);
    if (!r.consultations.includes(consultationId)) r.consultations.push(consultationId);
    await bus.publish(
      'health_record.updated',
      { recordId: r.recordId, changes: { consultation: consultationId } },
      { userId: r.userId },
    );
    return r;
  });
  router.post('/records/:id/revert-consultation', (req) => {
    const { consultationId } = requireFields<{ consultationId: string }>(req.body, ['consultationId']);
    const r = records.get(req.params.id!);
    if (r) r.consultations = r.consultations.filter((x) => x !== consultationId);
    return { reverted: Boolean(r) };
  });

  return ctx.serve('health-data-service', router);
}

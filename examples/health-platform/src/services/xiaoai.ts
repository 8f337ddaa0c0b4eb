/**
 * xiaoai-service: the coordinating agent and seed 001's consultation saga —
 * create_consultation_record → agents in parallel (xiaoai, xiaoke, laoke, soer) → the four diagnoses in
 * parallel (look, listen, inquiry, palpation) → generate_diagnosis_report → send_notification
 * (diagnosis.completed, recommendation.generated) → update_health_record; compensated in reverse.
 */
import { randomUUID } from 'node:crypto';
import { defineSaga, isSagaFailedError, parallel } from '@ballast/saga';
import type { Ctx } from '../context';
import { Router, requireFields, send } from '../http';
import type { SagaFeed } from '../sagas';

interface ConsultCtx {
  userId: string;
  recordId: string;
  symptoms: string[];
  consultationId?: string;
  xiaoai?: unknown;
  xiaoke?: { syndrome: string; degraded: boolean };
  laoke?: { recommendationId: string };
  soer?: { draftId: string };
  look?: string;
  listen?: string;
  inquiry?: string;
  palpation?: string;
  reportId?: string;
  notified?: boolean;
}

export async function startXiaoaiService(ctx: Ctx, feed: SagaFeed) {
  const reports = new Map<string, unknown>();
  const bus = ctx.bus('xiaoai-service');
  const c = ctx.client;
  const diagnose = (kind: 'look' | 'listen' | 'inquiry' | 'palpation') => ({
    name: `${kind}_diagnosis`,
    run: async (x: Readonly<ConsultCtx>) => {
      const r = await c.post<{ finding: string }>(`${kind}-service`, '/diagnose', {
        userId: x.userId,
        symptoms: x.symptoms,
      });
      return { [kind]: r.finding } as Partial<ConsultCtx>;
    },
  });

  const consultation = defineSaga<ConsultCtx>('health-consultation', {
    steps: [
      {
        name: 'create_consultation_record',
        run: async (x) => {
          const r = await c.post<{ consultationId: string }>('inquiry-service', '/consultations', {
            userId: x.userId,
            data: { symptoms: x.symptoms },
          });
          return { consultationId: r.consultationId };
        },
        compensate: async (x) => {
          if (x.consultationId) await c.delete('inquiry-service', `/consultations/${x.consultationId}`);
        },
      },
      parallel(
        [
          {
            name: 'xiaoai_analyze',
            run: (x) => ({ xiaoai: { agent: 'xiaoai', summary: `${x.symptoms.length} symptoms reported` } }),
          },
          {
            name: 'xiaoke_diagnose',
            run: async (x) => ({
              xiaoke: await c.post<{ syndrome: string; degraded: boolean }>('xiaoke-service', '/diagnose', {
                symptoms: x.symptoms,
              }),
            }),
          },
          {
            name: 'laoke_recommend',
            run: async (x) => ({
              laoke: await c.post<{ recommendationId: string }>('laoke-service', '/recommend', {
                symptoms: x.symptoms,
                userId: x.userId,
              }),
            }),
            compensate: async (x) => {
              if (x.laoke?.recommendationId)
                await c.delete('laoke-service', `/recommendations/${x.laoke.recommendationId}`);
            },
          },
          {
            name: 'soer_plan',
            run: async (x) => ({
              soer: await c.post<{ draftId: string }>('soer-service', '/plan', { userId: x.userId }),
            }),
            compensate: async (x) => {
              if (x.soer?.draftId) await c.delete('soer-service', `/plans/${x.soer.draftId}`);
            },
          },
        ],
        { name: 'call_ai_agents' },
      ),
      parallel([diagnose('look'), diagnose('listen'), diagnose('inquiry'), diagnose('palpation')], {
        name: 'four_diagnoses',
      }),
      {
        name: 'generate_diagnosis_report',
        run: (x) => {
          const reportId = `rep-${randomUUID().slice(0, 8)}`;
          reports.set(reportId, { ...x });
          return { reportId };
        },
        compensate: (x) => void (x.reportId && reports.delete(x.reportId)),
      },
      {
        name: 'send_notification',
        run: async (x) => {
          await bus.publish(
            'diagnosis.completed',
            {
              diagnosisId: x.reportId!,
              result: { syndrome: x.xiaoke?.syndrome, findings: [x.look, x.listen, x.inquiry, x.palpation] },
              confidence: 0.8,
            },
            { userId: x.userId, correlationId: x.consultationId },
          );
          await bus.publish(
            'recommendation.generated',
            { recommendationId: `rcm-${x.reportId}`, items: ['astragalus tea', 'walk 30 min daily'] },
            { userId: x.userId, correlationId: x.consultationId },
          );
          return { notified: true };
        },
      },
      {
        name: 'update_health_record',
        run: async (x) =>
          void (await c.patch('health-data-service', `/records/${x.recordId}/consultation`, {
            consultationId: x.consultationId,
          })),
        compensate: async (x) =>
          void (await c.post('health-data-service', `/records/${x.recordId}/revert-consultation`, {
            consultationId: x.consultationId,
          })),
      },
    ],
  });

  const orchestrator = feed.orchestrator(ctx, 'xiaoai-service', [consultation], async (e) => {
    await bus.publish('system.alert', {
      severity: 'critical',
      message: `compensation ${e.step} of ${e.saga} failed: ${e.error.message}`,
      component: 'saga',
    });
  });

  const router = new Router();
  router.post('/consultations', async (req, res) => {
    const { userId, recordId, symptoms } = requireFields<{ userId: string; recordId: string; symptoms: string[] }>(
      req.body,
      ['userId', 'recordId', 'symptoms'],
    );
    const sagaId = `consultation_${userId}_${Date.now()}`;
    try {
      const done = await orchestrator.run(consultation, { userId, recordId, symptoms }, { sagaId });
      return {
        sagaId,
        status: 'completed',
        consultationId: done.consultationId,
        reportId: done.reportId,
        syndrome: done.xiaoke?.syndrome,
        findings: [done.look, done.listen, done.inquiry, done.palpation],
      };
    } catch (error) {
      if (!isSagaFailedError(error)) throw error;
      // A consultation the user will not get: the ops console hears of it (a failed compensation alerts on its own).
      if (error.status === 'compensated') {
        await bus.publish(
          'system.alert',
          {
            severity: 'warning',
            message: `consultation ${sagaId} failed at ${error.failedStep}; its completed steps were compensated`,
            component: 'saga',
          },
          { userId, correlationId: sagaId },
        );
      }
      return send(res, 502, { sagaId, status: error.status, failedStep: error.failedStep, error: error.message });
    }
  });
  router.get('/reports/:id', (req) => reports.get(req.params.id!) ?? {});
  return ctx.serve('xiaoai-service', router, {
    dependsOn: [
      'inquiry-service',
      'xiaoke-service',
      'laoke-service',
      'soer-service',
      'look-service',
      'listen-service',
      'palpation-service',
      'health-data-service',
    ],
  });
}

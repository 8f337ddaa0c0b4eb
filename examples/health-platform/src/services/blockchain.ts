/**
 * blockchain-service: a simulated ledger of health-record hashes. Two config-center switches make it fail:
 * `chaos.blockchain` (every ledger call answers 500) and `chaos.blockchainRollback` (rollbacks fail) —
 * what the story flips to show compensation, the gateway breaker and a compensation that cannot succeed.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Ctx } from '../context';
import { HttpError, Router, requireFields } from '../http';

interface Entry {
  txId: string;
  recordId: string;
  userId: string;
  hash: string;
  at: string;
  rolledBack: boolean;
}

export async function startBlockchainService(ctx: Ctx) {
  const ledger = new Map<string, Entry>();
  const failing = () => {
    if (ctx.config.get('chaos.blockchain')) throw new HttpError(500, 'ledger node unavailable (injected failure)');
  };
  const router = new Router();

  router.post('/records', async (req) => {
    failing();
    // A slow ledger node (config-center `chaos.blockchainDelayMs`): the story kills a saga's process meanwhile.
    const delay = ctx.config.get('chaos.blockchainDelayMs');
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    const { recordId, userId, payload } = requireFields<{ recordId: string; userId: string; payload: unknown }>(
      req.body,
      ['recordId', 'userId'],
    );
    const existing = ledger.get(recordId);
    if (existing && !existing.rolledBack) return existing; // idempotent: the saga may retry
    const hash = createHash('sha256')
      .update(JSON.stringify(payload ?? null))
      .digest('hex');
    const entry: Entry = {
      txId: `tx-${randomUUID().slice(0, 8)}`,
      recordId,
      userId,
      hash,
      at: new Date().toISOString(),
      rolledBack: false,
    };
    ledger.set(recordId, entry);
    ctx.activity.add('blockchain-service', 'recorded', `record ${recordId} anchored as ${entry.txId}`, { recordId });
    return entry;
  });

  router.post('/records/:id/rollback', (req) => {
    if (ctx.config.get('chaos.blockchainRollback')) {
      throw new HttpError(500, 'rollback refused by the ledger (injected failure)');
    }
    const entry = ledger.get(req.params.id!);
    if (entry) entry.rolledBack = true;
    ctx.activity.add('blockchain-service', 'rolled-back', `record ${req.params.id} rolled back`, {
      recordId: req.params.id,
    });
    return { rolledBack: Boolean(entry) };
  });

  router.get('/ledger/:userId', (req) => {
    failing();
    return [...ledger.values()].filter((e) => e.userId === req.params.userId && !e.rolledBack);
  });

  return ctx.serve('blockchain-service', router);
}

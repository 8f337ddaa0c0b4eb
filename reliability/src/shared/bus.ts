import { z } from 'zod';

/** The one event type of the bus scenario: `n` identifies it in the ledger; a poison one always fails. */
export const chaosEvents = {
  'chaos.item': z.object({ n: z.number().int().nonnegative(), poison: z.boolean() }),
};

export const CHAOS_TYPE = 'chaos.item';
export const CHAOS_GROUP = 'chaos';

export interface BusWorkerConfig {
  redisUrl: string;
  prefix: string;
  consumer: string;
  /** Hash n → times the handler's effect happened (HINCRBY inside the handler, before the ack). */
  ledgerKey: string;
  /** Hash n → handler invocations of poison events. */
  poisonKey: string;
  maxDeliveries: number;
  idleTimeoutMs: number;
  lifetimeMs: number;
  /** Negative control only: every event with `n % dropEvery === 0` is acknowledged without its effect. */
  dropEvery?: number;
}

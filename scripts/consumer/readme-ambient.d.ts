// The user's own code that README examples call, declared once here so each example stays about Ballast.
// Only the application's side is declared: every Ballast call in a block is checked against the real types.

// A Redis client the application already has (README blocks that need one create it with createRedis).
declare const redis: import('ioredis').Redis;
declare const signal: AbortSignal;
declare const request: { signal: AbortSignal };
declare const app: { get(path: string, handler: () => unknown): void } & ((req: unknown, res: unknown) => void);

// core, circuit-breaker
declare function doWork(): Promise<void>;
declare function listUsers(options: { signal: AbortSignal }): Promise<unknown[]>;
declare function callUsers(): Promise<unknown>;
declare const existingOpossumBreaker: Parameters<typeof import('@ballast/circuit-breaker').fromOpossum>[0];

// config-center, discovery
declare function resize(size: number): void;
declare const pool: { query(sql: string): Promise<unknown> };

// event-bus, lock
declare function sendWelcomeMail(email: string, username: string): Promise<void>;
declare function chargeCard(options: { signal: AbortSignal; fencingToken: number }): Promise<void>;
declare function stopWork(): void;

// saga: the health-data services
interface HealthData {
  heartRate: number;
  takenAt: string;
}
interface Api {
  validate(userId: string): Promise<void>;
  save(data: HealthData): Promise<string>;
  delete(recordId: string): Promise<void>;
}
declare const api: Api;
declare const users: { validate(userId: string): Promise<void> };
declare const records: {
  save(data: HealthData, options: { idempotencyKey: string; signal: AbortSignal }): Promise<string>;
  delete(recordId: string): Promise<void>;
};
declare function recordOnChain(ctx: { recordId?: string }): Promise<{ blockId: string }>;
declare function revokeOnChain(ctx: { blockId?: string }): Promise<void>;
declare function notifyUser(context: unknown, step: string): void;
declare const data: HealthData;
declare const uploadId: string;
declare const sagaId: string;

// testkit: a store under test
interface Store {
  set(key: string, value: number): Promise<void>;
  get(key: string): Promise<number | undefined>;
  close(): Promise<void>;
}
declare class MemoryStore implements Store {
  set(key: string, value: number): Promise<void>;
  get(key: string): Promise<number | undefined>;
  close(): Promise<void>;
}
declare class RedisStore extends MemoryStore {
  constructor(redis: import('ioredis').Redis);
}

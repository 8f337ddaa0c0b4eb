export function benchRedisUrl(): string {
  return process.env.BALLAST_REDIS_URL ?? 'redis://127.0.0.1:6379';
}

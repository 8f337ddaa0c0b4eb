export { FakeClock, FakeClockLoopError, type FakeClockOptions, type PendingTimer } from './fake-clock';
export { createRedisFixture, defaultRedisUrl, type RedisFixture, type RedisFixtureOptions } from './redis-fixture';

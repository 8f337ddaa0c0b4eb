export { type SelfSignedCertificate, selfSignedCertificate } from './certificate';
export { type SilentServer, startSilentServer, unreachablePort } from './dead-endpoints';
export { type CompiledFixture, compileDecoratorFixture, type DecoratorMode, readTsconfig } from './decorator-fixture';
export { FakeClock, FakeClockLoopError, type FakeClockOptions, type PendingTimer } from './fake-clock';
export { FaultProxy, type FaultProxyOptions } from './fault-proxy';
export { type CapturedLogs, captureLogs, duplicateJsonKeys, type LogLine } from './log-capture';
export {
  countCommands,
  createRedisClusterFixture,
  createRedisFixture,
  defaultClusterNodes,
  defaultRedisUrl,
  escapeGlob,
  type RedisClusterFixture,
  type RedisFixture,
  type RedisFixtureOptions,
} from './redis-fixture';
export { freePort, type RedisServer, type StartRedisOptions, startRedisServer } from './redis-server';
export { type Tracked, track } from './track';

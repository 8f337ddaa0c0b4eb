// Moved to @ballast/testkit (outage tests of every package use it); re-exported for the scenarios.
export { freePort, type RedisServer, type StartRedisOptions, startRedisServer } from '@ballast/testkit';

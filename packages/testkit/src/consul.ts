/**
 * `@ballast/testkit/consul`: a Consul-compatible HTTP emulator for tests and local development. It is an
 * emulator of the endpoints Ballast uses (agent, health, catalog, KV, sessions, status, blocking queries),
 * not Consul.
 */

export { DurationError, formatDuration, parseDuration } from './consul/duration';
export {
  type ConsulEmulator,
  type ConsulEmulatorOptions,
  type RecordedRequest,
  startConsulEmulator,
} from './consul/emulator';

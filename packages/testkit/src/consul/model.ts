/**
 * The data model of one emulated single-node cluster: the node itself, the service, check, KV and session
 * entries the store keeps, and the error the emulator answers with.
 */
import { randomUUID } from 'node:crypto';
import type { TimerHandle } from '@ballast/core';

/** An error the emulator answers with Consul's status code and plain-text body. */
export class ConsulHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const NODE = { name: 'ballast-consul-emulator', address: '127.0.0.1', datacenter: 'dc1', id: randomUUID() };
export type CheckStatus = 'passing' | 'warning' | 'critical';

export interface ServiceEntry {
  id: string;
  name: string;
  tags: string[];
  address: string;
  port: number;
  meta: Record<string, string>;
  weights: { Passing: number; Warning: number };
  enableTagOverride: boolean;
  createIndex: number;
  modifyIndex: number;
}

export interface CheckEntry {
  checkId: string;
  name: string;
  status: CheckStatus;
  notes: string;
  output: string;
  serviceId: string;
  /** `grpc` checks are not probed by the emulator: they keep their registered status. */
  type: 'ttl' | 'http' | 'tcp' | 'grpc' | '';
  ttlMs?: number;
  /** Whether the definition gave a `Timeout` (Consul reports "" otherwise). */
  timeoutGiven?: boolean;
  /** `host:port` of a TCP check. */
  tcp?: string | undefined;
  intervalMs?: number;
  timeoutMs?: number;
  http?: string;
  method?: string;
  header?: Record<string, string[]>;
  body?: string;
  deregisterAfterMs?: number;
  criticalSince?: number;
  createIndex: number;
  modifyIndex: number;
  timer?: TimerHandle;
  abort?: AbortController;
}

export interface KvEntry {
  key: string;
  value: Buffer;
  flags: number;
  createIndex: number;
  modifyIndex: number;
  lockIndex: number;
  session?: string;
}

export interface SessionEntry {
  id: string;
  name: string;
  node: string;
  lockDelayMs: number;
  behavior: 'release' | 'delete';
  ttlMs: number;
  nodeChecks: string[];
  serviceChecks: { ID: string }[];
  createIndex: number;
  modifyIndex: number;
  timer?: TimerHandle;
}

export type Json = Record<string, unknown>;
export const asObject = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
export const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback);

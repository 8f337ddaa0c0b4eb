import { BallastError } from '@ballast/core';

/** Seed 000's event envelope, field for field. Trace context travels in `metadata` (W3C traceparent). */
export interface EventEnvelope<T = unknown, K extends string = string> {
  event_id: string;
  event_type: K;
  source_service: string;
  /** ISO 8601. */
  timestamp: string;
  data: T;
  correlation_id?: string;
  user_id?: string;
  metadata: Record<string, unknown>;
}

export class EventDecodeError extends BallastError {
  static readonly code = 'EVENT_UNDECODABLE';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(new.target.code, message, options);
  }
}

/** Flat stream fields: `data` and `metadata` as JSON, absent optional fields omitted. */
export function encodeEnvelope(e: EventEnvelope): Record<string, string> {
  const fields: Record<string, string> = {
    event_id: e.event_id,
    event_type: e.event_type,
    source_service: e.source_service,
    timestamp: e.timestamp,
    data: JSON.stringify(e.data ?? null),
    metadata: JSON.stringify(e.metadata ?? {}),
  };
  if (e.correlation_id) fields.correlation_id = e.correlation_id;
  if (e.user_id) fields.user_id = e.user_id;
  return fields;
}

/** The inverse of `encodeEnvelope`; throws `EventDecodeError` naming what is missing or malformed. */
export function decodeEnvelope(fields: Record<string, string>): EventEnvelope {
  const { event_id, event_type, source_service, timestamp, data } = fields;
  if (typeof event_id !== 'string') throw missing('event_id');
  if (typeof event_type !== 'string') throw missing('event_type');
  if (typeof source_service !== 'string') throw missing('source_service');
  if (typeof timestamp !== 'string') throw missing('timestamp');
  if (typeof data !== 'string') throw missing('data');
  const metadata = fields.metadata === undefined ? {} : parseField('metadata', fields.metadata);
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new EventDecodeError('field "metadata" is not a JSON object');
  }
  const envelope: EventEnvelope = {
    event_id,
    event_type,
    source_service,
    timestamp,
    data: parseField('data', data),
    metadata: metadata as Record<string, unknown>,
  };
  if (fields.correlation_id) envelope.correlation_id = fields.correlation_id;
  if (fields.user_id) envelope.user_id = fields.user_id;
  return envelope;
}

function missing(name: string): EventDecodeError {
  return new EventDecodeError(`missing field "${name}"`);
}

function parseField(name: 'data' | 'metadata', text: string): unknown {
  if (text === '{}') return {}; // metadata without trace context: what most events carry
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new EventDecodeError(`field "${name}" is not JSON`, { cause });
  }
}

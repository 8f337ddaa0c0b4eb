import { z } from 'zod';

/**
 * Seed 000's event types as a ready schema set: `createEventBus({ source, events: healthPlatformEvents })`.
 * Fields the seed's handlers read are required; other fields pass through (loose objects are
 * deliberate: producers may add fields older consumers ignore).
 */
export const healthPlatformEvents = {
  /** UserEventHandler sends a welcome email to `email`, addressed to `username`. */
  'user.registered': z.looseObject({
    email: z.email(),
    username: z.string().min(1),
  }),
  /** UserEventHandler updates the last login and alerts on `suspicious` logins. */
  'user.login': z.looseObject({
    email: z.email().optional(),
    suspicious: z.boolean().default(false),
    ip: z.string().optional(),
    userAgent: z.string().optional(),
  }),
  /** DiagnosisEventHandler saves the result and notifies the user (the envelope's `user_id`). */
  'diagnosis.completed': z.looseObject({
    diagnosisId: z.string().min(1),
    result: z.unknown(),
    confidence: z.number().min(0).max(1).optional(),
  }),
  'health_record.updated': z.looseObject({
    recordId: z.string().min(1),
    changes: z.record(z.string(), z.unknown()).optional(),
  }),
  'recommendation.generated': z.looseObject({
    recommendationId: z.string().min(1),
    items: z.array(z.unknown()).default([]),
  }),
  'system.alert': z.looseObject({
    severity: z.enum(['info', 'warning', 'critical']),
    message: z.string().min(1),
    component: z.string().optional(),
  }),
} as const;

export type HealthPlatformEvents = typeof healthPlatformEvents;

/** Seed 000's `EventType` enum values. */
export const EventType = {
  USER_REGISTERED: 'user.registered',
  USER_LOGIN: 'user.login',
  DIAGNOSIS_COMPLETED: 'diagnosis.completed',
  HEALTH_RECORD_UPDATED: 'health_record.updated',
  RECOMMENDATION_GENERATED: 'recommendation.generated',
  SYSTEM_ALERT: 'system.alert',
} as const;

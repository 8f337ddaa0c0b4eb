/**
 * user-service's domain class, written NestJS-style with legacy decorators (`experimentalDecorators`):
 * this file is compiled with tsconfig.legacy.json's settings (see ../legacy.ts), the rest of the example
 * uses TS 5 standard decorators. The same @ballast decorators work in both modes.
 *
 * Only type imports from the example's own modules: the compiled file is loaded from `.compiled/`.
 */
import type { EventEnvelope } from '@ballast/event-bus';
import { OnEvent } from '@ballast/event-bus';
import { WithLock } from '@ballast/lock';

export interface Profile {
  userId: string;
  email: string;
  username: string;
  createdAt: string;
  lastLoginAt?: string;
  logins: number;
  welcomeMailSent: boolean;
}

export interface UserServiceDeps {
  record(kind: string, text: string, data?: Record<string, unknown>): void;
}

export class UserService {
  readonly profiles = new Map<string, Profile>();

  constructor(private readonly deps: UserServiceDeps) {}

  /** One writer per user at a time (seed 002's `with_lock("user:{user_id}")`). */
  @WithLock('user:{userId}')
  async createProfile(cmd: { userId: string; email: string; username: string }): Promise<Profile> {
    const existing = this.profiles.get(cmd.userId);
    if (existing) return existing;
    const profile: Profile = { ...cmd, createdAt: new Date().toISOString(), logins: 0, welcomeMailSent: false };
    this.profiles.set(cmd.userId, profile);
    return profile;
  }

  /** Seed 000's UserEventHandler: a welcome mail for every new user. */
  @OnEvent('user.registered', { group: 'user-service.welcome-mail' })
  async onRegistered(event: EventEnvelope<{ email: string; username: string }>): Promise<void> {
    const profile = this.profiles.get(event.user_id ?? '');
    if (profile) profile.welcomeMailSent = true;
    this.deps.record('welcome-mail', `welcome mail sent to ${event.data.email}`, { userId: event.user_id });
  }

  /** Seed 000's UserEventHandler: last login; a suspicious login raises an alert upstream. */
  @OnEvent('user.login', { group: 'user-service.last-login' })
  async onLogin(event: EventEnvelope<{ email?: string; suspicious?: boolean }>): Promise<void> {
    const profile = this.profiles.get(event.user_id ?? '');
    if (!profile) return;
    await this.touchLogin({ userId: profile.userId, at: event.timestamp });
    this.deps.record('last-login', `last login of ${profile.username} updated`, { userId: profile.userId });
  }

  @WithLock('user:{userId}')
  async touchLogin(cmd: { userId: string; at: string }): Promise<void> {
    const profile = this.profiles.get(cmd.userId);
    if (!profile) return;
    profile.lastLoginAt = cmd.at;
    profile.logins += 1;
  }
}

/**
 * user-service as a NestJS app on @ballast/nestjs, written as a Nest team would: legacy decorators
 * (`experimentalDecorators`, which Nest's parameter decorators need). This file is compiled with
 * tsconfig.legacy.json's settings (see ../legacy.ts); the rest of the example uses TS 5 standard decorators.
 * The same @ballast decorators (@WithLock, @OnEvent) work in both modes.
 *
 * The process model stays the example's: the app is initialised without listening and its Express handler
 * is served by `ctx.serve` (same instance ids, discovery registration and /health as every other service).
 * `BallastModule` gets the process's own event bus and lock manager (instances: the process closes them).
 *
 * Only type imports from the example's own modules: the compiled file is loaded from `.compiled/`.
 */
import 'reflect-metadata';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventBus, EventEnvelope, EventSchemas } from '@ballast/event-bus';
import { OnEvent } from '@ballast/event-bus';
import type { LockManager } from '@ballast/lock';
import { WithLock } from '@ballast/lock';
import { BallastModule } from '@ballast/nestjs';
import {
  type ArgumentsHost,
  BadRequestException,
  Body,
  Catch,
  Controller,
  type DynamicModule,
  type ExceptionFilter,
  Get,
  HttpCode,
  HttpException,
  Inject,
  Injectable,
  Module,
  NotFoundException,
  Param,
  Post,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

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

/** The Nest token of the process's activity recorder. */
export const USER_DEPS = Symbol('user-service deps');

@Injectable()
export class UserService {
  readonly profiles = new Map<string, Profile>();

  constructor(@Inject(USER_DEPS) private readonly deps: UserServiceDeps) {}

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

/** The example's error body, `{ error }`, for Nest's exceptions too (the gateway and the story read it). */
@Catch()
class ErrorBody implements ExceptionFilter {
  constructor(private readonly onError: (error: unknown) => void) {}

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<IncomingMessage>();
    const res = http.getResponse<ServerResponse>();
    const status = error instanceof HttpException ? error.getStatus() : 500;
    if (status >= 500) this.onError(error);
    // This app throws plain HttpExceptions; Nest's own are its router's 404 and Express's body parser's 400.
    const message =
      error instanceof NotFoundException
        ? `no route ${req.method} ${new URL(req.url ?? '/', 'http://local').pathname}`
        : error instanceof BadRequestException
          ? 'body is not JSON'
          : error instanceof Error
            ? error.message
            : String(error);
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ error: message }));
  }
}

function requireFields<T extends Record<string, unknown>>(body: unknown, fields: (keyof T & string)[]): T {
  if (body === null || typeof body !== 'object') throw new HttpException('body must be a JSON object', 400);
  for (const f of fields) {
    if ((body as Record<string, unknown>)[f] === undefined) throw new HttpException(`missing field "${f}"`, 400);
  }
  return body as T;
}

@Controller('users')
class UsersController {
  constructor(@Inject(UserService) private readonly users: UserService) {}

  @Post()
  @HttpCode(200)
  create(@Body() body: unknown) {
    return this.users.createProfile(
      requireFields<{ userId: string; email: string; username: string }>(body, ['userId', 'email', 'username']),
    );
  }

  @Get(':id')
  get(@Param('id') id: string) {
    const p = this.users.profiles.get(id);
    if (!p) throw new HttpException(`no user ${id}`, 404);
    return p;
  }
}

@Module({})
class UserModule {
  static with(deps: UserServiceDeps, bus: EventBus<EventSchemas>, locks: LockManager): DynamicModule {
    return {
      module: UserModule,
      // The process's bus and lock manager: @OnEvent handlers subscribe on it at bootstrap, @WithLock holds on it.
      imports: [BallastModule.forRoot({ eventBus: bus, lock: locks })],
      controllers: [UsersController],
      providers: [{ provide: USER_DEPS, useValue: deps }, UserService],
    };
  }
}

export interface UserApp {
  /** The app's Express handler, for `ctx.serve`. */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  users: UserService;
  /** Nest's shutdown: @ballast/nestjs unsubscribes the @OnEvent handlers (the bus and locks stay the caller's). */
  close(): Promise<void>;
}

export async function createUserApp(opts: {
  deps: UserServiceDeps;
  bus: EventBus<EventSchemas>;
  locks: LockManager;
  onError(error: unknown): void;
}): Promise<UserApp> {
  const app = await NestFactory.create(UserModule.with(opts.deps, opts.bus, opts.locks), {
    logger: false,
    abortOnError: false,
  });
  app.useGlobalFilters(new ErrorBody(opts.onError));
  await app.init();
  const express = app.getHttpAdapter().getInstance();
  return {
    handler: express,
    users: app.get(UserService),
    close: () => app.close(),
  };
}

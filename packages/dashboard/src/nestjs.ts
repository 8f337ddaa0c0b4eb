/**
 * `@ballast/dashboard/nestjs`: `DashboardModule.forRoot(options)` mounts the dashboard on the Nest app's HTTP
 * server (express or fastify). Options may be a function of `@ballast/nestjs`'s `BallastResources`, so the
 * dashboard shows the breakers, sagas, bus and config `BallastModule` made:
 *
 * DashboardModule.forRoot((r) => ({ breakers: r.breakers, sagas: r.saga, authorize: isAdmin }))
 */
import { BallastResources } from '@ballast/nestjs';
import { type DynamicModule, Inject, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost, ModuleRef } from '@nestjs/core';
import { createDashboard, type Dashboard } from './handler';
import type { DashboardOptions } from './options';

export const DASHBOARD_OPTIONS = Symbol.for('@ballast/dashboard/options');

export type DashboardModuleOptions = DashboardOptions | ((resources: BallastResources) => DashboardOptions);

export class DashboardModule implements OnModuleInit, OnApplicationShutdown {
  #dashboard: Dashboard | undefined;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly moduleRef: ModuleRef,
    private readonly input: DashboardModuleOptions,
  ) {}

  static forRoot(options: DashboardModuleOptions): DynamicModule {
    return { module: DashboardModule, providers: [{ provide: DASHBOARD_OPTIONS, useValue: options }] };
  }

  /** The mounted listener (after module init). */
  get dashboard(): Dashboard | undefined {
    return this.#dashboard;
  }

  onModuleInit(): void {
    const options =
      typeof this.input === 'function'
        ? this.input(this.moduleRef.get(BallastResources, { strict: false }))
        : this.input;
    this.#dashboard = createDashboard(options);
    // Express: app.use; Fastify: the adapter's middie `use`. Outside the base path it calls next().
    this.adapterHost.httpAdapter.use(this.#dashboard);
  }

  onApplicationShutdown(): void {
    this.#dashboard?.close();
  }
}

// No decorator syntax: the package is built without legacy-decorator emit, so the metadata Nest reads is set here.
(Reflect as unknown as { defineMetadata(k: string, v: unknown, t: object): void }).defineMetadata(
  'design:paramtypes',
  [HttpAdapterHost, ModuleRef, Object],
  DashboardModule,
);
Inject(DASHBOARD_OPTIONS)(DashboardModule, undefined as never, 2);

// NestJS HTTP controllers whose routes carry one Ballast method decorator above, below and between NestJS's own
// route, guard, role, pipe and interceptor decorators. Shared by tests/nest-v10 and tests/nest-v11: the Nest
// modules are passed in (each test package resolves its own major), only their types are imported here.
// Compiled with experimentalDecorators + emitDecoratorMetadata (./tsconfig.json), as a Nest app is.
import type { AnyMethod } from '@ballast/core';
import type * as NestCommon from '@nestjs/common';
import type * as NestCore from '@nestjs/core';
import type * as NestExpress from '@nestjs/platform-express';
import type * as NestFastify from '@nestjs/platform-fastify';
import type * as Rx from 'rxjs';

export interface NestModules {
  common: typeof NestCommon;
  core: typeof NestCore;
  express: typeof NestExpress;
  fastify: typeof NestFastify;
  rxjs: typeof Rx;
}

/** A Ballast method decorator under test (as experimentalDecorators calls it), made fresh for each route. */
export type BallastDecorator = () => (
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<AnyMethod>,
) => TypedPropertyDescriptor<AnyMethod>;

/** What each route returns: the arguments its handler got (after pipes). */
export interface Echo {
  args: unknown[];
}

export const ROLES = 'roles';

/** Builds a controller at `/<path>` whose every route stacks `Ballast()` somewhere among Nest's decorators. */
export function makeController(nest: NestModules, path: string, Ballast: BallastDecorator): NestCommon.Type {
  const { Body, Controller, Get, Param, Post, SetMetadata, UseGuards, UseInterceptors, UsePipes } = nest.common;

  // A custom role decorator, as Nest's docs write one; RolesGuard (on the controller) reads it from the handler.
  const Roles = (...roles: string[]) => SetMetadata(ROLES, roles);

  class RolesGuard implements NestCommon.CanActivate {
    readonly #reflector = new nest.core.Reflector();
    canActivate(context: NestCommon.ExecutionContext): boolean {
      const roles = this.#reflector.getAllAndOverride<string[] | undefined>(ROLES, [
        context.getHandler(),
        context.getClass(),
      ]);
      if (!roles) return true;
      const role = context.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers['x-role'];
      return role !== undefined && roles.includes(role);
    }
  }

  /** A method-level guard: denies unless the request says `x-allow: yes`. */
  class AllowHeaderGuard implements NestCommon.CanActivate {
    canActivate(context: NestCommon.ExecutionContext): boolean {
      return context.switchToHttp().getRequest<{ headers: Record<string, string> }>().headers['x-allow'] === 'yes';
    }
  }

  class UpperPipe implements NestCommon.PipeTransform<unknown, unknown> {
    transform(value: unknown): unknown {
      return typeof value === 'string' ? value.toUpperCase() : value;
    }
  }

  class WrapInterceptor implements NestCommon.NestInterceptor {
    intercept(_context: NestCommon.ExecutionContext, next: NestCommon.CallHandler): Rx.Observable<unknown> {
      return next.handle().pipe(nest.rxjs.map((body: unknown) => ({ intercepted: body })));
    }
  }

  @Controller(path)
  @UseGuards(RolesGuard)
  class BallastController {
    // -- routes
    @Ballast()
    @Get('get-outer')
    getOuter(): Echo {
      return { args: [] };
    }

    @Get('get-inner')
    @Ballast()
    getInner(): Echo {
      return { args: [] };
    }

    @Ballast()
    @Post('post-outer')
    postOuter(@Body() body: unknown): Echo {
      return { args: [body] };
    }

    @Post('post-inner')
    @Ballast()
    postInner(@Body() body: unknown): Echo {
      return { args: [body] };
    }

    // -- a custom role decorator (SetMetadata) read by a controller-level guard
    @Ballast()
    @Roles('admin')
    @Get('roles-outer')
    rolesOuter(): Echo {
      return { args: [] };
    }

    @Get('roles-between')
    @Ballast()
    @Roles('admin')
    rolesBetween(): Echo {
      return { args: [] };
    }

    @Get('roles-inner')
    @Roles('admin')
    @Ballast()
    rolesInner(): Echo {
      return { args: [] };
    }

    // -- a method-level @UseGuards
    @Ballast()
    @UseGuards(AllowHeaderGuard)
    @Get('guard-outer')
    guardOuter(): Echo {
      return { args: [] };
    }

    @Get('guard-between')
    @Ballast()
    @UseGuards(AllowHeaderGuard)
    guardBetween(): Echo {
      return { args: [] };
    }

    @Get('guard-inner')
    @UseGuards(AllowHeaderGuard)
    @Ballast()
    guardInner(): Echo {
      return { args: [] };
    }

    // -- @UsePipes, with a parameter decorator (its metadata lives on the class, keyed by method name)
    @Ballast()
    @UsePipes(UpperPipe)
    @Get('pipe-outer/:id')
    pipeOuter(@Param('id') id: string): Echo {
      return { args: [id] };
    }

    @Get('pipe-between/:id')
    @Ballast()
    @UsePipes(UpperPipe)
    pipeBetween(@Param('id') id: string): Echo {
      return { args: [id] };
    }

    @Get('pipe-inner/:id')
    @UsePipes(UpperPipe)
    @Ballast()
    pipeInner(@Param('id') id: string): Echo {
      return { args: [id] };
    }

    // -- @UseInterceptors
    @Ballast()
    @UseInterceptors(WrapInterceptor)
    @Get('intercept-outer')
    interceptOuter(): Echo {
      return { args: [] };
    }

    @Get('intercept-between')
    @Ballast()
    @UseInterceptors(WrapInterceptor)
    interceptBetween(): Echo {
      return { args: [] };
    }

    @Get('intercept-inner')
    @UseInterceptors(WrapInterceptor)
    @Ballast()
    interceptInner(): Echo {
      return { args: [] };
    }
  }
  return BallastController;
}

/** Every route of `makeController`, with what a request without credentials must get. */
export const ROUTES = {
  plain: ['get-outer', 'get-inner'],
  post: ['post-outer', 'post-inner'],
  roles: ['roles-outer', 'roles-between', 'roles-inner'],
  guard: ['guard-outer', 'guard-between', 'guard-inner'],
  pipe: ['pipe-outer', 'pipe-between', 'pipe-inner'],
  intercept: ['intercept-outer', 'intercept-between', 'intercept-inner'],
} as const;

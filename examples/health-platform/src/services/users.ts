/**
 * user-service: profiles. Its domain class (src/legacy/user-service.ts) uses legacy decorators —
 * @WithLock('user:{userId}') and @OnEvent — as a NestJS team would write it.
 */
import type { Ctx } from '../context';
import { HttpError, Router, requireFields } from '../http';
import { importLegacy } from '../legacy';

/** The shape of the legacy class this file uses (kept here so the standard-decorator build never compiles it). */
interface LegacyUserService {
  profiles: Map<string, { userId: string; username: string; welcomeMailSent: boolean; logins: number }>;
  createProfile(cmd: { userId: string; email: string; username: string }): Promise<unknown>;
}
interface LegacyModule {
  UserService: new (deps: {
    record(kind: string, text: string, data?: Record<string, unknown>): void;
  }) => LegacyUserService;
}

export async function startUserService(ctx: Ctx) {
  const { UserService } = await importLegacy<LegacyModule>('user-service');
  const users = new UserService({ record: (kind, text, data) => ctx.activity.add('user-service', kind, text, data) });
  const bus = ctx.bus('user-service');
  await bus.registerHandlers(users);

  const router = new Router();
  router.post('/users', async (req) => {
    const cmd = requireFields<{ userId: string; email: string; username: string }>(req.body, [
      'userId',
      'email',
      'username',
    ]);
    return users.createProfile(cmd);
  });
  router.get('/users/:id', (req) => {
    const p = users.profiles.get(req.params.id!);
    if (!p) throw new HttpError(404, `no user ${req.params.id}`);
    return p;
  });
  return ctx.serve('user-service', router);
}

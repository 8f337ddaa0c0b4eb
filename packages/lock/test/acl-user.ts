import type { Redis } from 'ioredis';

/**
 * A connection as an ACL user allowed the lock keys of `ok:*` resources under `prefix` (and the fence counter)
 * only: a call on any other resource is refused with NOPERM. Delete the user with `ACL DELUSER <user>`.
 */
export async function okKeysOnlyClient(admin: Redis, user: string, prefix: string): Promise<Redis> {
  await admin.acl(
    'SETUSER',
    user,
    'on',
    '>pw',
    'resetkeys',
    `~${prefix}:lock:{ok:*`,
    `~${prefix}:lock:fences`,
    'resetchannels',
    '&*',
    '+@all',
  );
  const redis = admin.duplicate({ username: user, password: 'pw' });
  redis.on('error', () => {});
  return redis;
}

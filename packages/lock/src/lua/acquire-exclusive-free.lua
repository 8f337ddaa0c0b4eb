-- Exclusive acquire, first part: the lock is free — nothing held, nobody queued, no v1 fence counter left to
-- fold in (one EXISTS tells all three) — so the caller takes it at once. It runs before the prelude is even
-- defined: the uncontended acquire costs four commands and none of the prelude's closures. Keys and ARGV: see
-- acquire-exclusive.lua; same reply.
if redis.call('EXISTS', KEYS[1], KEYS[3], KEYS[6]) == 0 then
  local fence = redis.call('INCR', KEYS[2])
  redis.call('HSET', KEYS[1], 'mode', 'exclusive', 't:' .. ARGV[1], 1, 'f:' .. ARGV[1], fence)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, fence, 1, tonumber(ARGV[2])}
end

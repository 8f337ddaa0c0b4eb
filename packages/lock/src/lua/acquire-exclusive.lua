-- The exclusive fast path: take a free lock, or re-enter one this token holds exclusively, touching two keys.
-- Same key shapes as acquire.lua. Anything involving shared holders is left to acquire.lua (returns {-1}).
-- KEYS[1] owners, KEYS[2] fence
-- ARGV[1] token, ARGV[2] ttl ms
-- Returns {1, fencingToken, count}, {0, retryAfterMs} (held exclusively by another token) or {-1}.
local field = 't:' .. ARGV[1]
local held = redis.call('HMGET', KEYS[1], 'mode', field)
if not held[1] then
  redis.call('HSET', KEYS[1], 'mode', 'exclusive', field, 1)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, redis.call('INCR', KEYS[2]), 1}
end
if held[1] ~= 'exclusive' then return {-1} end
if not held[2] then return {0, math.max(0, redis.call('PTTL', KEYS[1]))} end
local count = redis.call('HINCRBY', KEYS[1], field, 1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, redis.call('INCR', KEYS[2]), count}

-- Take several exclusive locks at once, all or none (the MultiLock's one-script path: on a single Redis node, or
-- on a Cluster when every key shares a slot). Each lock is left exactly as acquire-exclusive.lua leaves it, so
-- the lock manager's acquire, extend and release see ordinary exclusive holds.
-- KEYS[2i-1] owners of lock i (hash 'mode' -> exclusive|shared, 't:<token>' -> count; see acquire.lua)
-- KEYS[2i]   fence of lock i (counter of fencing tokens)
-- ARGV[1] token, ARGV[2] ttl ms
-- Returns {1, fence_1, ..., fence_n} when all were free and are now held,
-- or {0, i, retryAfterMs} naming the first lock found held (nothing is taken then).
local field = 't:' .. ARGV[1]
local n = #KEYS / 2
for i = 1, n do
  if redis.call('EXISTS', KEYS[2 * i - 1]) == 1 then
    return {0, i, math.max(0, redis.call('PTTL', KEYS[2 * i - 1]))}
  end
end
local result = {1}
for i = 1, n do
  redis.call('HSET', KEYS[2 * i - 1], 'mode', 'exclusive', field, 1)
  redis.call('PEXPIRE', KEYS[2 * i - 1], ARGV[2])
  result[i + 1] = redis.call('INCR', KEYS[2 * i])
end
return result

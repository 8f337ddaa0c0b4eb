-- Take several exclusive locks at once, all or none (the MultiLock's one-script path: on a single Redis node, or
-- on a Cluster when every key shares a slot). Each lock is left exactly as acquire-exclusive.lua leaves it
-- (holder count and the hold's fencing token), so the lock manager's acquire, extend and release see ordinary
-- exclusive holds; fencing tokens come from the same counter as the manager's, so they rise across both.
-- KEYS[1]    counter  the fencing-token counter of the prefix (Cluster: of the hash slot), see fair-prelude.lua
-- KEYS[4i-2] owners of lock i (hash 'mode', 't:<token>' -> count, 'f:<token>' -> the hold's fence)
-- KEYS[4i-1] its fair queue (list of waiting tokens, oldest first)
-- KEYS[4i]   its queue info (hash token -> '<expiry ms>:<ttl ms>')
-- KEYS[4i+1] its v1 per-lock fence counter (folded into the counter once and deleted)
-- ARGV[1] token, ARGV[2] ttl ms
-- Returns {1, fence_1, ..., fence_n} when all were free and are now held, or {0, i, retryAfterMs} naming the
-- first lock found held — or free but with a live fair waiter queued: a multi-lock never jumps a fair queue
-- (nothing is taken then).
local field, fenceField = 't:' .. ARGV[1], 'f:' .. ARGV[1]
local n = (#KEYS - 1) / 4
local now
for i = 1, n do
  local owners, queue, qinfo = KEYS[4 * i - 2], KEYS[4 * i - 1], KEYS[4 * i]
  if redis.call('EXISTS', owners) == 1 then
    -- Refused: the holder's release must publish (release-exclusive.lua reads 'w').
    redis.call('HSET', owners, 'w', 1)
    return {0, i, math.max(0, redis.call('PTTL', owners))}
  end
  if redis.call('EXISTS', queue) == 1 then
    if not now then
      local t = redis.call('TIME')
      now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    end
    for _, waiter in ipairs(redis.call('LRANGE', queue, 0, -1)) do
      local info = redis.call('HGET', qinfo, waiter)
      if info then
        local expiry = tonumber(string.sub(info, 1, string.find(info, ':', 1, true) - 1))
        if expiry > now then return {0, i, expiry - now} end
      end
    end
  end
end
local result = {1}
for i = 1, n do
  local fence = redis.call('INCR', KEYS[1])
  local legacy = KEYS[4 * i + 1]
  if redis.call('EXISTS', legacy) == 1 then
    local old = tonumber(redis.call('GET', legacy)) or 0
    if old >= fence then
      fence = old + 1
      redis.call('SET', KEYS[1], fence)
    end
    redis.call('DEL', legacy)
  end
  redis.call('HSET', KEYS[4 * i - 2], 'mode', 'exclusive', field, 1, fenceField, fence)
  redis.call('PEXPIRE', KEYS[4 * i - 2], ARGV[2])
  result[i + 1] = fence
end
return result

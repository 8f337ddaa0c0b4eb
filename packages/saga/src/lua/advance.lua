-- Fenced write of a running saga: only the lease owner at the version it last wrote may advance it.
-- Renews the lease in the same step.
-- KEYS[1] saga hash   KEYS[2] the partition's recovery-index prefix (the saga's zset is KEYS[2] .. its name)
-- KEYS[3..] the events' keys (emit.lua)
-- ARGV[1] saga id, ARGV[2] owner, ARGV[3] expected version, ARGV[4] lease ms, ARGV[5] events (emit.lua: count,
-- then the events), then field/value pairs. The events are written only when the fence holds.
-- Returns {1, newVersion}; {0, 'missing'} or {0, 'fenced'} (another owner or version: nothing written).
local cur = redis.call('HMGET', KEYS[1], 'version', 'owner', 'saga')
local index = KEYS[2] .. (cur[3] or '')
if not cur[1] then return {0, 'missing'} end
if cur[2] ~= ARGV[2] or cur[1] ~= ARGV[3] then return {0, 'fenced'} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilMs = now + tonumber(ARGV[4])
local v = tonumber(cur[1]) + 1
local pairsFrom = 6 + tonumber(ARGV[5])
if #ARGV >= pairsFrom then
  redis.call('HSET', KEYS[1], 'version', v, 'lease_until', untilMs, 'updated_at', now, unpack(ARGV, pairsFrom))
else
  redis.call('HSET', KEYS[1], 'version', v, 'lease_until', untilMs, 'updated_at', now)
end
redis.call('ZADD', index, untilMs, ARGV[1])
saga_emit(5, 3, ARGV[2])
return {1, v}

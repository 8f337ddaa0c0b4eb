-- Fenced terminal write (completed, compensated, compensation_failed): releases the lease, removes the saga
-- from the recovery index and lets the hash expire after the retention period.
-- KEYS[1] saga hash   KEYS[2] the partition's recovery-index prefix (the saga's zset is KEYS[2] .. its name)
-- ARGV[1] saga id, ARGV[2] owner, ARGV[3] expected version, ARGV[4] retention ms (0 keeps it),
-- KEYS[3..] the events' keys (emit.lua); ARGV[5] events (emit.lua: count, then the events), then field/value
-- pairs (status first). The events are written only when the fence holds.
-- Returns {1, newVersion}; {0, 'missing'} or {0, 'fenced'}.
local cur = redis.call('HMGET', KEYS[1], 'version', 'owner', 'saga')
local index = KEYS[2] .. (cur[3] or '')
if not cur[1] then return {0, 'missing'} end
if cur[2] ~= ARGV[2] or cur[1] ~= ARGV[3] then return {0, 'fenced'} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = tonumber(cur[1]) + 1
redis.call('HSET', KEYS[1], 'version', v, 'owner', '', 'lease_until', 0, 'updated_at', now, unpack(ARGV, 6 + tonumber(ARGV[5])))
redis.call('ZREM', index, ARGV[1])
saga_emit(5, 3, ARGV[2])
local retention = tonumber(ARGV[4])
-- A compensation_failed saga is kept until its dead letter is retried (its DLQ entry must find it).
if retention > 0 and redis.call('HGET', KEYS[1], 'status') ~= 'compensation_failed' then
  redis.call('PEXPIRE', KEYS[1], retention)
end
return {1, v}

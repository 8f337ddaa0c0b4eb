-- Extend a saga's lease while a step runs (fenced: owner and version must match; version unchanged).
-- KEYS[1] saga hash   KEYS[2] the partition's recovery-index prefix (the saga's zset is KEYS[2] .. its name)
-- ARGV[1] saga id, ARGV[2] owner, ARGV[3] expected version, ARGV[4] lease ms
-- Returns 1 when extended, 0 when the fence no longer holds, {2, reason} when extended and a cancel was asked.
local cur = redis.call('HMGET', KEYS[1], 'version', 'owner', 'saga')
local index = KEYS[2] .. (cur[3] or '')
if not cur[1] or cur[2] ~= ARGV[2] or cur[1] ~= ARGV[3] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilMs = now + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'lease_until', untilMs)
redis.call('ZADD', index, untilMs, ARGV[1])
local cancel = redis.call('HGET', KEYS[1], 'cancel_reason')
if cancel then return {2, cancel} end
return 1

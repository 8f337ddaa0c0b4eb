-- Create a saga leased to its orchestrator, or return the stored one (nothing written). Server time (TIME).
-- KEYS[1] saga hash (seed 001's saga:{id})   KEYS[2] the recovery-index zset of the saga's name in its partition (id -> lease expiry ms)
-- KEYS[3..] the events' keys (emit.lua)
-- ARGV[1] saga id, ARGV[2] owner, ARGV[3] lease ms, ARGV[4] events (emit.lua: count, then the events),
-- then field/value pairs (saga, status, context, …)
-- Returns {1, version} when created; {0, HGETALL of the existing hash} otherwise.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, redis.call('HGETALL', KEYS[1])}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untilMs = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'version', 1, 'owner', ARGV[2], 'lease_until', untilMs, 'created_at', now,
  'updated_at', now, unpack(ARGV, 5 + tonumber(ARGV[4])))
redis.call('ZADD', KEYS[2], untilMs, ARGV[1])
saga_emit(4, 3, ARGV[2])
return {1, 1}

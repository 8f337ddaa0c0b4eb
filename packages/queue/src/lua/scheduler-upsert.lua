-- Adds or replaces a job scheduler. An unchanged schedule (same `spec`) keeps its next tick, anchor and count:
-- every process may upsert its schedulers on start without moving or repeating a tick.
-- KEYS[1] scheduler index (ZSET id -> next tick ms)
-- ARGV[1] scheduler hash prefix   ARGV[2] id   ARGV[3] spec (canonical JSON)   ARGV[4] next tick ms
-- ARGV[5..] field, value pairs of the record (template, schedule)
local hk = ARGV[1] .. ARGV[2]
local old = redis.call('HMGET', hk, 'spec', 'next', 'anchor', 'count')
redis.call('DEL', hk)
for i = 5, #ARGV, 2 do redis.call('HSET', hk, ARGV[i], ARGV[i + 1]) end
redis.call('HSET', hk, 'spec', ARGV[3], 'count', old[4] or '0')
local next = ARGV[4]
if old[1] == ARGV[3] and old[2] then
  next = old[2]
  if old[3] then redis.call('HSET', hk, 'anchor', old[3]) end
end
redis.call('HSET', hk, 'next', next)
redis.call('ZADD', KEYS[1], next, ARGV[2])
return 1

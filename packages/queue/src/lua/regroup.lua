-- A grouped queue's job that came back through the shared line (a retry, a delayed job due, a stalled job),
-- leased by a plain fetch: back to its group's line (no attempt spent), so its group's turn and limit apply.
-- KEYS[1..9] the queue's keys   KEYS[10] round-robin LIST of groups   KEYS[11] SET of listed groups
-- ARGV[1] job key prefix   ARGV[2] id   ARGV[3] token   ARGV[4] group wait key prefix   ARGV[5] group
local jk = ARGV[1] .. ARGV[2]
if redis.call('HGET', jk, 'token') ~= ARGV[3] then return 0 end
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('HDEL', jk, 'token')
local prio = tonumber(redis.call('HGET', jk, 'priority'))
local seq = redis.call('INCR', KEYS[8])
redis.call('HSET', jk, 'state', 'waiting', 'group', ARGV[5])
redis.call('ZADD', ARGV[4] .. ARGV[5], string.format('%.0f', (10 - prio) * 17592186044416 + seq), ARGV[2])
if redis.call('SADD', KEYS[11], ARGV[5]) == 1 then redis.call('RPUSH', KEYS[10], ARGV[5]) end
redis.call('LPUSH', KEYS[9], '1')
redis.call('LTRIM', KEYS[9], 0, 0)
return 1

-- Gives an active job back without spending an attempt (the handler was rate limited: RateLimitedError): to
-- `delayed` for `delay` ms (server clock), or straight to `wait`. False when `token` no longer holds the job.
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake
-- ARGV[1] job key prefix   ARGV[2] id   ARGV[3] token   ARGV[4] delay ms
if redis.replicate_commands then redis.replicate_commands() end -- TIME before writes (Redis < 5)
local jk = ARGV[1] .. ARGV[2]
if redis.call('HGET', jk, 'token') ~= ARGV[3] then return 0 end
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('HDEL', jk, 'token')
local delay = tonumber(ARGV[4])
if delay > 0 then
  local t = redis.call('TIME')
  local due = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + delay)
  redis.call('HSET', jk, 'state', 'delayed', 'delayUntil', due)
  redis.call('ZADD', KEYS[2], due, ARGV[2])
else
  local prio = tonumber(redis.call('HGET', jk, 'priority'))
  local seq = redis.call('INCR', KEYS[8])
  redis.call('HSET', jk, 'state', 'waiting')
  redis.call('ZADD', KEYS[1], string.format('%.0f', (10 - prio) * 17592186044416 + seq), ARGV[2])
end
redis.call('LPUSH', KEYS[9], '1')
redis.call('LTRIM', KEYS[9], 0, 0)
return 1

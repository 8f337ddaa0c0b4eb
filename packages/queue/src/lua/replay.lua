-- Dead-letter queue → waiting: the job starts over (attempts and stall count reset, history kept).
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake
-- ARGV[1] job key prefix  ARGV[2] now  ARGV[3..] ids (none: every dead job)
-- Returns how many jobs moved.
local prefix = ARGV[1]
local ids = {}
if #ARGV < 3 then
  ids = redis.call('ZRANGE', KEYS[6], 0, -1)
else
  for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local moved = 0
for _, id in ipairs(ids) do
  if redis.call('ZREM', KEYS[6], id) == 1 then
    local jk = prefix .. id
    local prio = tonumber(redis.call('HGET', jk, 'priority'))
    if prio then
      local seq = redis.call('INCR', KEYS[8])
      redis.call('HSET', jk, 'state', 'waiting', 'attemptsMade', 0, 'stalledCount', 0)
      redis.call('HDEL', jk, 'finishedAt', 'delayUntil', 'processedAt')
      redis.call('ZADD', KEYS[1], string.format('%.0f', (10 - prio) * 17592186044416 + seq), id)
      moved = moved + 1
    end
  end
end
if moved > 0 then
  redis.call('LPUSH', KEYS[9], '1')
  redis.call('LTRIM', KEYS[9], 0, 0)
end
return moved

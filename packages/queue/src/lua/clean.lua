-- Removes up to `limit` jobs of one state older than a cutoff: finished jobs (completed, failed, dead) by
-- finish time, waiting and delayed ones by creation time (at most 10,000 of those looked at a call).
-- Active jobs are never cleaned (their workers hold them).
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake
-- ARGV[1] job key prefix  ARGV[2] state  ARGV[3] cutoff (ms; older = finished/created before it)  ARGV[4] limit
-- Returns the removed ids.
local index = { waiting = 1, delayed = 2, completed = 4, failed = 5, dead = 6 }
local prefix, state = ARGV[1], ARGV[2]
local cutoff, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local key = KEYS[index[state]]
local removed = {}
if state == 'waiting' or state == 'delayed' then
  local ids = redis.call('ZRANGE', key, 0, 9999)
  for _, id in ipairs(ids) do
    if #removed >= limit then break end
    local created = tonumber(redis.call('HGET', prefix .. id, 'createdAt'))
    if created == nil or created < cutoff then removed[#removed + 1] = id end
  end
else
  removed = redis.call('ZRANGEBYSCORE', key, '-inf', '(' .. string.format('%.0f', cutoff), 'LIMIT', 0, limit)
end
for _, id in ipairs(removed) do
  redis.call('ZREM', key, id)
  redis.call('DEL', prefix .. id)
end
return removed

-- Removes up to `limit` jobs of one state older than a cutoff: finished jobs (completed, failed, dead) by
-- finish time, waiting and delayed ones by creation time (at most 10,000 of those looked at a call).
-- Active jobs are never cleaned (their workers hold them).
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake  KEYS[10] events  KEYS[11] groups  KEYS[12] group set
-- KEYS[13] group line key prefix (waiting: a grouped queue's group lines are looked at after `wait`)
-- ARGV[1] job key prefix  ARGV[2] state  ARGV[3] cutoff (ms; older = finished/created before it)  ARGV[4] limit
-- Returns the removed ids.
local index = { waiting = 1, delayed = 2, completed = 4, failed = 5, dead = 6 }
local prefix, state = ARGV[1], ARGV[2]
local cutoff, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local keys = { KEYS[index[state]] }
if state == 'waiting' then
  for _, g in ipairs(redis.call('LRANGE', KEYS[11], 0, -1)) do keys[#keys + 1] = KEYS[13] .. g end
end
local removed = {}
local looked = 0
for _, key in ipairs(keys) do
  local ids
  if state == 'waiting' or state == 'delayed' then
    ids = {}
    for _, id in ipairs(redis.call('ZRANGE', key, 0, 9999 - looked)) do
      if #removed + #ids >= limit then break end
      looked = looked + 1
      local created = tonumber(redis.call('HGET', prefix .. id, 'createdAt'))
      if created == nil or created < cutoff then ids[#ids + 1] = id end
    end
  else
    ids = redis.call('ZRANGEBYSCORE', key, '-inf', '(' .. string.format('%.0f', cutoff), 'LIMIT', 0, limit)
  end
  for _, id in ipairs(ids) do
    redis.call('ZREM', key, id)
    redis.call('DEL', prefix .. id)
    removed[#removed + 1] = id
  end
  if #removed >= limit or looked >= 10000 then break end
end
return removed

-- Creates or moves one job's status record (RabbitMQ backend's Redis status store).
-- KEYS[1] job hash  KEYS[2] new state's index (ZSET)  KEYS[3..8] indexes of waiting, delayed, active,
-- completed, failed, dead (move only)
-- ARGV[1] create | move  ARGV[2] id  ARGV[3] new state ('' = unchanged)  ARGV[4] score in the new index
-- ARGV[5] error entry JSON to append ('' = none)  ARGV[6] keep count  ARGV[7] keep age ms
-- ARGV[8] attemptsMade increment  ARGV[9] stalledCount increment  ARGV[10] only if in this state ('' = any)
-- ARGV[11] not if in one of these comma-separated states ('' = none)  ARGV[12..] field, value pairs to set
-- Returns 1, or 0 (create: the id exists; move: the job is gone, not in ARGV[10] or in ARGV[11]).
-- A finish time as the score in a finished-jobs index, placed after every score already there: jobs that
-- finish in the same millisecond keep their finish order (equal scores would sort by id), so a count
-- retention drops the oldest. The offset is a binary fraction of a millisecond, exact in a double.
local function after_last(key, t)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2]
  if last and tonumber(last) >= t then t = tonumber(last) + 1 / 1024 end
  return string.format('%.17g', t)
end
local jk = KEYS[1]
local id = ARGV[2]
local exists = redis.call('EXISTS', jk) == 1
if ARGV[1] == 'create' then
  if exists then return 0 end
  local f = {}
  for i = 12, #ARGV do f[#f + 1] = ARGV[i] end
  redis.call('HSET', jk, unpack(f))
  redis.call('ZADD', KEYS[2], ARGV[4], id)
  return 1
end
if not exists then return 0 end
local old = redis.call('HGET', jk, 'state')
if ARGV[10] ~= '' and old ~= ARGV[10] then return 0 end
if ARGV[11] ~= '' and old and string.find(',' .. ARGV[11] .. ',', ',' .. old .. ',', 1, true) then return 0 end
if #ARGV >= 13 then
  local f = {}
  for i = 12, #ARGV do f[#f + 1] = ARGV[i] end
  redis.call('HSET', jk, unpack(f))
end
if tonumber(ARGV[8]) ~= 0 then redis.call('HINCRBY', jk, 'attemptsMade', ARGV[8]) end
if tonumber(ARGV[9]) ~= 0 then redis.call('HINCRBY', jk, 'stalledCount', ARGV[9]) end
if ARGV[5] ~= '' then
  local errs = redis.call('HGET', jk, 'errors')
  if errs then errs = string.sub(errs, 1, -2) .. ',' .. ARGV[5] .. ']' else errs = '[' .. ARGV[5] .. ']' end
  redis.call('HSET', jk, 'errors', errs)
end
if ARGV[3] ~= '' then
  local names = { waiting = 3, delayed = 4, active = 5, completed = 6, failed = 7, dead = 8 }
  if old and names[old] then redis.call('ZREM', KEYS[names[old]], id) end
  local keep = tonumber(ARGV[6])
  if keep == 0 then
    redis.call('DEL', jk)
    return 1
  end
  redis.call('HSET', jk, 'state', ARGV[3])
  local score = ARGV[4]
  if ARGV[3] == 'completed' or ARGV[3] == 'failed' then score = after_last(KEYS[2], tonumber(score)) end
  redis.call('ZADD', KEYS[2], score, id)
  local prefix = string.sub(jk, 1, #jk - #id)
  if keep > 0 then
    local excess = redis.call('ZCARD', KEYS[2]) - keep
    if excess > 0 then
      local drop = redis.call('ZRANGE', KEYS[2], 0, excess - 1)
      for _, o in ipairs(drop) do redis.call('DEL', prefix .. o) end
      redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
    end
  end
  local age = tonumber(ARGV[7])
  if age >= 0 then
    local drop = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. string.format('%.0f', tonumber(ARGV[4]) - age), 'LIMIT', 0, 1000)
    for _, o in ipairs(drop) do
      redis.call('DEL', prefix .. o)
      redis.call('ZREM', KEYS[2], o)
    end
  end
end
return 1

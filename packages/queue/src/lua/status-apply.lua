-- Applies a batch of creates and moves to job status records (RabbitMQ backend's Redis status store), in
-- order: the calls one process makes in the same tick go to Redis as one script call.
-- KEYS[1..6] indexes (ZSET) of waiting, delayed, active, completed, failed, dead
-- ARGV[1] job hash key prefix (a job's key is prefix .. id: the indexes' hash tag)  ARGV[2] operations
-- Then per operation, 12 values followed by its field/value pairs:
--   op (create | move), id, new state ('' = unchanged), score in the new state's index, error entry JSON to
--   append ('' = none), keep count and keep age ms of the new state's index (-1 = unbounded, count 0 removes
--   the job), attemptsMade increment, stalledCount increment, only if in this state ('' = any), not if in
--   one of these comma-separated states ('' = none), number of field/value pairs to set
-- Returns one 1 or 0 per operation (create: 0 when the id exists; move: 0 when the job is gone, not in the
-- only-if state or in a not-if state).
local index = { waiting = 1, delayed = 2, active = 3, completed = 4, failed = 5, dead = 6 }
local prefix = ARGV[1]

-- A finish time as the score in a finished-jobs index, placed after every score already there: jobs that
-- finish in the same millisecond keep their finish order (equal scores would sort by id), so a count
-- retention drops the oldest. The offset is a binary fraction of a millisecond, exact in a double.
local function after_last(key, t)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2]
  if last and tonumber(last) >= t then t = tonumber(last) + 1 / 1024 end
  return string.format('%.17g', t)
end

local function trim(key, keep, age, now)
  if keep > 0 then
    local excess = redis.call('ZCARD', key) - keep
    if excess > 0 then
      local drop = redis.call('ZRANGE', key, 0, excess - 1)
      for _, o in ipairs(drop) do redis.call('DEL', prefix .. o) end
      redis.call('ZREMRANGEBYRANK', key, 0, excess - 1)
    end
  end
  if age >= 0 then
    local cutoff = '(' .. string.format('%.0f', now - age)
    local drop = redis.call('ZRANGEBYSCORE', key, '-inf', cutoff, 'LIMIT', 0, 1000)
    for _, o in ipairs(drop) do
      redis.call('DEL', prefix .. o)
      redis.call('ZREM', key, o)
    end
  end
end

-- One operation; a is the index of its first value in ARGV, fs..fe its field/value pairs.
local function apply(a, fs, fe)
  local op, id, state, score = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local jk = prefix .. id
  local exists = redis.call('EXISTS', jk) == 1
  if op == 'create' then
    if exists then return 0 end
    redis.call('HSET', jk, unpack(ARGV, fs, fe))
    redis.call('ZADD', KEYS[index[state]], score, id)
    return 1
  end
  if not exists then return 0 end
  local old = redis.call('HGET', jk, 'state')
  local only, unless = ARGV[a + 9], ARGV[a + 10]
  if only ~= '' and old ~= only then return 0 end
  if unless ~= '' and old and string.find(',' .. unless .. ',', ',' .. old .. ',', 1, true) then return 0 end
  if fe >= fs then redis.call('HSET', jk, unpack(ARGV, fs, fe)) end
  if tonumber(ARGV[a + 7]) ~= 0 then redis.call('HINCRBY', jk, 'attemptsMade', ARGV[a + 7]) end
  if tonumber(ARGV[a + 8]) ~= 0 then redis.call('HINCRBY', jk, 'stalledCount', ARGV[a + 8]) end
  local err = ARGV[a + 4]
  if err ~= '' then
    local errs = redis.call('HGET', jk, 'errors')
    if errs then errs = string.sub(errs, 1, -2) .. ',' .. err .. ']' else errs = '[' .. err .. ']' end
    redis.call('HSET', jk, 'errors', errs)
  end
  if state == '' then return 1 end
  if old and index[old] then redis.call('ZREM', KEYS[index[old]], id) end
  local keep = tonumber(ARGV[a + 5])
  if keep == 0 then
    redis.call('DEL', jk)
    return 1
  end
  local key = KEYS[index[state]]
  redis.call('HSET', jk, 'state', state)
  local s = score
  if state == 'completed' or state == 'failed' then s = after_last(key, tonumber(score)) end
  redis.call('ZADD', key, s, id)
  trim(key, keep, tonumber(ARGV[a + 6]), tonumber(score))
  return 1
end

local out = {}
local a = 3
for n = 1, tonumber(ARGV[2]) do
  local fs = a + 12
  local fe = fs + 2 * tonumber(ARGV[a + 11]) - 1
  out[n] = apply(a, fs, fe)
  a = fe + 1
end
return out

-- A failed attempt under the job's lease token: appends the error to the job's history, then moves it to
-- `wait`/`delayed` (retry), `dead` (DLQ) or `failed` (trimmed by count and age).
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake  KEYS[10] waiting-children  KEYS[11] flow outbox
-- ARGV[1] job key prefix  ARGV[2] id  ARGV[3] token  ARGV[4] now (timestamps; a retry's due time is server time)
-- ARGV[5] error entry (JSON object)
-- ARGV[6] outcome: retry | dead | failed   ARGV[7] retry delay ms
-- ARGV[8] keep count   ARGV[9] keep age ms (of the `failed` index, or of the DLQ for `dead`; -1: unbounded)
-- Returns 1, or 0 when the token no longer holds the job.
-- A finish time as the score in a finished-jobs index, placed after every score already there: jobs that
-- finish in the same millisecond keep their finish order (equal scores would sort by id), so a count
-- retention drops the oldest. The offset is a binary fraction of a millisecond, exact in a double.
-- A flow child (it has a parent, `pq`/`pid`) leaves its parent a notification in this queue's outbox, in this
-- same step: applied to the parent's queue by flow-resolve.lua next (another slot on a Cluster), re-applied by
-- the workers' sweep when the process died in between. Final failures only under a policy other than `wait`.
local function notify_parent(jk, id, kind, value)
  local f = redis.call('HMGET', jk, 'pq', 'pid', 'ck', 'pp')
  if not f[1] then return end
  if kind ~= 'completed' then
    kind = f[4]
    if not kind or kind == 'wait' then return end
  end
  redis.call('HSET', KEYS[11], id, cjson.encode({ q = f[1], id = f[2], ck = f[3], k = kind, v = value }))
end
local function after_last(key, t)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2]
  if last and tonumber(last) >= t then t = tonumber(last) + 1 / 1024 end
  return string.format('%.17g', t)
end
-- Trims a finished-jobs index (and the jobs' hashes) to its newest `keep` entries (-1: any number) and to
-- entries no older than `age` ms (-1: any age); at most 1,000 removals of each kind a call.
local function trim(key, prefix, keep, age, now)
  if keep > 0 then
    local excess = math.min(redis.call('ZCARD', key) - keep, 1000)
    if excess > 0 then
      local old = redis.call('ZRANGE', key, 0, excess - 1)
      for _, o in ipairs(old) do redis.call('DEL', prefix .. o) end
      redis.call('ZREMRANGEBYRANK', key, 0, excess - 1)
    end
  end
  if age >= 0 then
    local cutoff = string.format('%.0f', now - age)
    local old = redis.call('ZRANGEBYSCORE', key, '-inf', '(' .. cutoff, 'LIMIT', 0, 1000)
    for _, o in ipairs(old) do
      redis.call('DEL', prefix .. o)
      redis.call('ZREM', key, o)
    end
  end
end
-- Schedules (due times, lease deadlines) are on the Redis server's clock, never a worker's: workers on
-- different hosts disagree about the time, the server is one clock for all of them.
if redis.replicate_commands then redis.replicate_commands() end -- TIME before writes (Redis < 5)
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prefix = ARGV[1]
local id = ARGV[2]
local jk = prefix .. id
local now = tonumber(ARGV[4])
if redis.call('HGET', jk, 'token') ~= ARGV[3] then return 0 end
redis.call('ZREM', KEYS[3], id)
redis.call('HDEL', jk, 'token')
redis.call('HINCRBY', jk, 'attemptsMade', 1)
local errs = redis.call('HGET', jk, 'errors')
if errs then
  errs = string.sub(errs, 1, -2) .. ',' .. ARGV[5] .. ']'
else
  errs = '[' .. ARGV[5] .. ']'
end
redis.call('HSET', jk, 'errors', errs)
local outcome = ARGV[6]
if outcome == 'retry' then
  local delay = tonumber(ARGV[7])
  if delay > 0 then
    local due = string.format('%.0f', clock + delay)
    redis.call('HSET', jk, 'state', 'delayed', 'delayUntil', due)
    redis.call('ZADD', KEYS[2], due, id)
  else
    local prio = tonumber(redis.call('HGET', jk, 'priority'))
    local seq = redis.call('INCR', KEYS[8])
    redis.call('HSET', jk, 'state', 'waiting')
    redis.call('ZADD', KEYS[1], string.format('%.0f', (10 - prio) * 17592186044416 + seq), id)
  end
  redis.call('LPUSH', KEYS[9], '1')
  redis.call('LTRIM', KEYS[9], 0, 0)
elseif outcome == 'dead' then
  notify_parent(jk, id, 'failed', ARGV[5])
  redis.call('HSET', jk, 'state', 'dead', 'finishedAt', ARGV[4])
  redis.call('ZADD', KEYS[6], after_last(KEYS[6], now), id)
  trim(KEYS[6], prefix, tonumber(ARGV[8]), tonumber(ARGV[9]), now)
else
  local keep = tonumber(ARGV[8])
  local age = tonumber(ARGV[9])
  notify_parent(jk, id, 'failed', ARGV[5])
  if keep == 0 then
    redis.call('DEL', jk)
    return 1
  end
  redis.call('HSET', jk, 'state', 'failed', 'finishedAt', ARGV[4])
  redis.call('ZADD', KEYS[5], after_last(KEYS[5], now), id)
  trim(KEYS[5], prefix, keep, age, now)
end
return 1

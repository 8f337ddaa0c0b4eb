-- Active jobs whose lease lapsed (their worker stopped renewing): back to `wait`, or to `dead` once they
-- stalled more than maxStalledCount times (with an entry in their error history).
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake  KEYS[10] waiting-children  KEYS[11] flow outbox
-- ARGV[1] job key prefix  ARGV[2] now (ms, the worker's clock: history timestamps; lapsed is by the server's)  ARGV[3] maxStalledCount  ARGV[4] max jobs per call
-- ARGV[5] DLQ keep count  ARGV[6] DLQ keep age ms (-1: unbounded)
-- Returns { id, 'waiting' | 'dead', … }
-- Schedules (due times, lease deadlines) are on the Redis server's clock, never a worker's: workers on
-- different hosts disagree about the time, the server is one clock for all of them.
-- See fail.lua: after every score already there, so ties keep their order (and DLQ cursors stay exact).
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
if redis.replicate_commands then redis.replicate_commands() end -- TIME before writes (Redis < 5)
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prefix = ARGV[1]
local maxStalled = tonumber(ARGV[3])
local ids = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. clock, 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
local woke = false
local died = false
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[3], id)
  local jk = prefix .. id
  if redis.call('EXISTS', jk) == 1 then
    redis.call('HDEL', jk, 'token')
    local count = redis.call('HINCRBY', jk, 'stalledCount', 1)
    if count > maxStalled then
      local attempt = tonumber(redis.call('HGET', jk, 'attemptsMade')) + 1
      local entry = '{"attempt":' .. attempt .. ',"name":"JobStalledError","code":"JOB_STALLED","message":"Job \\"'
        .. id .. '\\" stalled ' .. count .. ' times","stalled":true,"at":' .. ARGV[2] .. '}'
      local errs = redis.call('HGET', jk, 'errors')
      if errs then errs = string.sub(errs, 1, -2) .. ',' .. entry .. ']' else errs = '[' .. entry .. ']' end
      redis.call('HSET', jk, 'state', 'dead', 'finishedAt', ARGV[2], 'errors', errs)
      notify_parent(jk, id, 'failed', entry)
      redis.call('ZADD', KEYS[6], after_last(KEYS[6], tonumber(ARGV[2])), id)
      died = true
      out[#out + 1] = id
      out[#out + 1] = 'dead'
    else
      local prio = tonumber(redis.call('HGET', jk, 'priority'))
      local seq = redis.call('INCR', KEYS[8])
      redis.call('HSET', jk, 'state', 'waiting')
      redis.call('ZADD', KEYS[1], string.format('%.0f', (10 - prio) * 17592186044416 + seq), id)
      woke = true
      out[#out + 1] = id
      out[#out + 1] = 'waiting'
    end
  end
end
if died then trim(KEYS[6], prefix, tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[2])) end
if woke then
  redis.call('LPUSH', KEYS[9], '1')
  redis.call('LTRIM', KEYS[9], 0, 0)
end
return out

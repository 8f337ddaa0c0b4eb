-- Active → completed for a batch of jobs (those finishing in the same tick), each under its own lease
-- token; then trims completed jobs once per distinct retention setting of the batch.
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake  KEYS[10] waiting-children  KEYS[11] flow outbox
-- ARGV[1] job key prefix  ARGV[2] now  ARGV[3] n
-- ARGV[4 + 5i ..] per job: id, token, result (JSON), keep count (-1: all, 0: remove now), keep age ms (-1: any)
-- Returns { 1 | 0, … } per job: 0 when its token no longer holds it (lease lost: recovered as stalled).
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
local prefix = ARGV[1]
local now = ARGV[2]
local n = tonumber(ARGV[3])
local out = {}
local trims = {}
for i = 0, n - 1 do
  local b = 4 + i * 5
  local id = ARGV[b]
  local jk = prefix .. id
  if redis.call('HGET', jk, 'token') ~= ARGV[b + 1] then
    out[#out + 1] = 0
  else
    redis.call('ZREM', KEYS[3], id)
    notify_parent(jk, id, 'completed', ARGV[b + 2])
    local keep = tonumber(ARGV[b + 3])
    if keep == 0 then
      redis.call('DEL', jk)
    else
      redis.call('HSET', jk, 'state', 'completed', 'finishedAt', now, 'result', ARGV[b + 2])
      redis.call('HDEL', jk, 'token')
      redis.call('ZADD', KEYS[4], after_last(KEYS[4], tonumber(now)), id)
      trims[ARGV[b + 3] .. ':' .. ARGV[b + 4]] = { keep, tonumber(ARGV[b + 4]) }
    end
    out[#out + 1] = 1
  end
end
for _, t in pairs(trims) do
  local keep, age = t[1], t[2]
  if keep > 0 then
    local excess = redis.call('ZCARD', KEYS[4]) - keep
    if excess > 0 then
      local old = redis.call('ZRANGE', KEYS[4], 0, excess - 1)
      for _, o in ipairs(old) do redis.call('DEL', prefix .. o, prefix .. o .. ':processed', prefix .. o .. ':failed') end
      redis.call('ZREMRANGEBYRANK', KEYS[4], 0, excess - 1)
    end
  end
  if age >= 0 then
    local cutoff = string.format('%.0f', tonumber(now) - age)
    local old = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. cutoff, 'LIMIT', 0, 1000)
    for _, o in ipairs(old) do
      redis.call('DEL', prefix .. o, prefix .. o .. ':processed', prefix .. o .. ':failed')
      redis.call('ZREM', KEYS[4], o)
    end
  end
end
return out

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
-- `f`: the job's HMGET of token, pq, pid, ck, pp (read with the token check: one call per job).
local function notify_parent(f, id, kind, value)
  if not f[2] then return end
  if kind ~= 'completed' then
    kind = f[5]
    if not kind or kind == 'wait' then return end
  end
  redis.call('HSET', KEYS[11], id, cjson.encode({ q = f[2], id = f[3], ck = f[4], k = kind, v = value }))
end
-- One command for many arguments, in slices (Lua's unpack has a C-stack limit of about 8,000 values).
local function each_slice(cmd, key, args)
  for i = 1, #args, 1000 do
    if key then
      redis.call(cmd, key, unpack(args, i, math.min(i + 999, #args)))
    else
      redis.call(cmd, unpack(args, i, math.min(i + 999, #args)))
    end
  end
end
local prefix = ARGV[1]
-- The keys of trimmed jobs (each one's hash and flow records), for one DEL of them all.
local function job_keys(ids)
  local keys = {}
  for _, o in ipairs(ids) do
    keys[#keys + 1] = prefix .. o
    keys[#keys + 1] = prefix .. o .. ':processed'
    keys[#keys + 1] = prefix .. o .. ':failed'
  end
  return keys
end
local now = ARGV[2]
local n = tonumber(ARGV[3])
local out = {}
local trims = {}
local unleased = {} -- ids to take out of `active`: one ZREM for the batch
local finished = {} -- score, id pairs for `completed`: one ZADD for the batch, after every job's own writes
local last = false -- the highest score in `completed` (read once, when the first job is kept)
for i = 0, n - 1 do
  local b = 4 + i * 5
  local id = ARGV[b]
  local jk = prefix .. id
  local f = redis.call('HMGET', jk, 'token', 'pq', 'pid', 'ck', 'pp')
  if f[1] ~= ARGV[b + 1] then
    out[#out + 1] = 0
  else
    unleased[#unleased + 1] = id
    notify_parent(f, id, 'completed', ARGV[b + 2])
    local keep = tonumber(ARGV[b + 3])
    if keep == 0 then
      redis.call('DEL', jk)
    else
      redis.call('HSET', jk, 'state', 'completed', 'finishedAt', now, 'result', ARGV[b + 2])
      redis.call('HDEL', jk, 'token')
      if last == false then
        local top = redis.call('ZRANGE', KEYS[4], -1, -1, 'WITHSCORES')[2]
        last = top and tonumber(top) or -math.huge
      end
      local t = tonumber(now)
      if last >= t then t = last + 1 / 1024 end
      last = t
      finished[#finished + 1] = string.format('%.17g', t)
      finished[#finished + 1] = id
      trims[ARGV[b + 3] .. ':' .. ARGV[b + 4]] = { keep, tonumber(ARGV[b + 4]) }
    end
    out[#out + 1] = 1
  end
end
-- (Nothing from here on may fail: the jobs' own writes are done, and a script is not rolled back. The index
-- writes go in slices, under unpack's limit.)
each_slice('ZREM', KEYS[3], unleased)
each_slice('ZADD', KEYS[4], finished)
for _, t in pairs(trims) do
  local keep, age = t[1], t[2]
  if keep > 0 then
    local excess = redis.call('ZCARD', KEYS[4]) - keep
    if excess > 0 then
      local old = redis.call('ZRANGE', KEYS[4], 0, excess - 1)
      each_slice('DEL', false, job_keys(old))
      redis.call('ZREMRANGEBYRANK', KEYS[4], 0, excess - 1)
    end
  end
  if age >= 0 then
    local cutoff = string.format('%.0f', tonumber(now) - age)
    local old = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. cutoff, 'LIMIT', 0, 1000)
    each_slice('DEL', false, job_keys(old))
    each_slice('ZREM', KEYS[4], old)
  end
end
return out

-- Promotes due delayed jobs to `wait`, then moves up to `count` waiting jobs (highest priority first, FIFO
-- within a priority) to `active` under a lease token. Passes the wake-up on when jobs remain.
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake
-- ARGV[1] job key prefix   ARGV[2] now (ms, the worker's clock: processedAt only)   ARGV[3] count
-- ARGV[4] lease token   ARGV[5] lease ms   ARGV[6] (optional) the worker's fetch counter: a key of this queue's
-- hash tag, counted up by each of the worker's fetches (its fetches on two connections, in the order they ran)
-- Due jobs and the lease deadline (server time + lease ms) are on the server's clock.
-- Returns { { id, name, data, opts, priority, attemptsMade, createdAt }, … }, ms until the next delayed job
-- is due (0: due now) or -1 when none is delayed, this fetch's number on the worker's counter (0: none) }
-- Schedules (due times, lease deadlines) are on the Redis server's clock, never a worker's: workers on
-- different hosts disagree about the time, the server is one clock for all of them.
if redis.replicate_commands then redis.replicate_commands() end -- TIME before writes (Redis < 5)
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prefix = ARGV[1]
local SHIFT = 17592186044416 -- 2^44
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', clock, 'LIMIT', 0, 1000)
for _, id in ipairs(due) do
  local jk = prefix .. id
  local prio = tonumber(redis.call('HGET', jk, 'priority'))
  redis.call('ZREM', KEYS[2], id)
  if prio then
    local seq = redis.call('INCR', KEYS[8])
    redis.call('ZADD', KEYS[1], string.format('%.0f', (10 - prio) * SHIFT + seq), id)
    redis.call('HSET', jk, 'state', 'waiting')
    redis.call('HDEL', jk, 'delayUntil')
  end
end
local jobs = {}
if redis.call('HGET', KEYS[7], 'paused') ~= '1' then
  local popped = redis.call('ZPOPMIN', KEYS[1], ARGV[3])
  local deadline = string.format('%.0f', clock + tonumber(ARGV[5]))
  local leased = {} -- deadline, id pairs: one ZADD into `active` for the batch
  for i = 1, #popped, 2 do
    local id = popped[i]
    local jk = prefix .. id
    local f = redis.call('HMGET', jk, 'name', 'data', 'opts', 'priority', 'attemptsMade', 'createdAt')
    if f[1] then
      redis.call('HSET', jk, 'state', 'active', 'token', ARGV[4], 'processedAt', ARGV[2])
      leased[#leased + 1] = deadline
      leased[#leased + 1] = id
      jobs[#jobs + 1] = { id, f[1], f[2], f[3], f[4], f[5], f[6] }
    end
  end
  -- (In slices: Lua's unpack has a C-stack limit of about 8,000 values. This may not fail: the jobs are
  -- popped, and a script is not rolled back.)
  for i = 1, #leased, 1000 do
    redis.call('ZADD', KEYS[3], unpack(leased, i, math.min(i + 999, #leased)))
  end
  if #jobs > 0 and redis.call('ZCARD', KEYS[1]) > 0 then
    redis.call('LPUSH', KEYS[9], '1')
    redis.call('LTRIM', KEYS[9], 0, 0)
  end
end
local order = 0
if ARGV[6] then
  order = redis.call('INCR', ARGV[6])
  redis.call('PEXPIRE', ARGV[6], 86400000)
end
local nextDue = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if nextDue[2] == nil then return { jobs, -1, order } end
return { jobs, math.max(0, tonumber(nextDue[2]) - clock), order }

-- Adds a batch of jobs atomically: each to `wait` (scored by priority then sequence) or `delayed` (by due
-- time). A job whose id exists is a duplicate and left as it is. Wakes one blocked worker.
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake
-- ARGV[1] job key prefix   ARGV[2] now (ms, the producer's clock: createdAt; due times use the server's)   ARGV[3] number of jobs n
-- ARGV[4 + 6i ..] per job: id ('' = generate), name, data, opts (JSON), priority (0..10), delay ms
-- Returns { id1, added1 (1|0), id2, added2, … }
-- Schedules (due times, lease deadlines) are on the Redis server's clock, never a worker's: workers on
-- different hosts disagree about the time, the server is one clock for all of them.
if redis.replicate_commands then redis.replicate_commands() end -- TIME before writes (Redis < 5)
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prefix = ARGV[1]
local now = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local SHIFT = 17592186044416 -- 2^44
local out = {}
local woke = false
for i = 0, n - 1 do
  local b = 4 + i * 6
  local id = ARGV[b]
  local seq = redis.call('INCR', KEYS[8])
  if id == '' then
    id = tostring(seq)
    while redis.call('EXISTS', prefix .. id) == 1 do
      seq = redis.call('INCR', KEYS[8])
      id = tostring(seq)
    end
  end
  local jk = prefix .. id
  if redis.call('EXISTS', jk) == 1 then
    out[#out + 1] = id
    out[#out + 1] = 0
  else
    local prio = tonumber(ARGV[b + 4])
    local delay = tonumber(ARGV[b + 5])
    if delay > 0 then
      local due = string.format('%.0f', clock + delay)
      redis.call('HSET', jk, 'name', ARGV[b + 1], 'data', ARGV[b + 2], 'opts', ARGV[b + 3], 'priority', prio,
        'state', 'delayed', 'attemptsMade', 0, 'stalledCount', 0, 'createdAt', ARGV[2], 'delayUntil', due)
      redis.call('ZADD', KEYS[2], due, id)
    else
      redis.call('HSET', jk, 'name', ARGV[b + 1], 'data', ARGV[b + 2], 'opts', ARGV[b + 3], 'priority', prio,
        'state', 'waiting', 'attemptsMade', 0, 'stalledCount', 0, 'createdAt', ARGV[2])
      redis.call('ZADD', KEYS[1], string.format('%.0f', (10 - prio) * SHIFT + seq), id)
    end
    woke = true
    out[#out + 1] = id
    out[#out + 1] = 1
  end
end
if woke then
  redis.call('LPUSH', KEYS[9], '1')
  redis.call('LTRIM', KEYS[9], 0, 0)
end
return out

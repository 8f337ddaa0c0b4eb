-- Active jobs whose lease lapsed (their worker stopped renewing): back to `wait`, or to `dead` once they
-- stalled more than maxStalledCount times (with an entry in their error history).
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake
-- ARGV[1] job key prefix  ARGV[2] now (ms, the worker's clock: history timestamps; lapsed is by the server's)  ARGV[3] maxStalledCount  ARGV[4] max jobs per call
-- Returns { id, 'waiting' | 'dead', … }
-- Schedules (due times, lease deadlines) are on the Redis server's clock, never a worker's: workers on
-- different hosts disagree about the time, the server is one clock for all of them.
if redis.replicate_commands then redis.replicate_commands() end -- TIME before writes (Redis < 5)
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prefix = ARGV[1]
local maxStalled = tonumber(ARGV[3])
local ids = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. clock, 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
local woke = false
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
      redis.call('ZADD', KEYS[6], ARGV[2], id)
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
if woke then
  redis.call('LPUSH', KEYS[9], '1')
  redis.call('LTRIM', KEYS[9], 0, 0)
end
return out

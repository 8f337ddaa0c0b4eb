-- Claims one tick of a job scheduler: a compare-and-set of its next tick (`expected` -> `newNext`) and, in
-- the same step, the tick's job added to `wait` (as add.lua adds a job). Of any number of processes racing for
-- a tick exactly one gets 1; the others see a next tick they did not expect and get 0.
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake  KEYS[10] scheduler index
-- ARGV[1] job key prefix   ARGV[2] scheduler hash prefix   ARGV[3] scheduler id   ARGV[4] expected next tick
-- ARGV[5] new next tick ('' : none, the scheduler is done)   ARGV[6] add the job (1 | 0)   ARGV[7] job id
-- ARGV[8] now (ms, the claimer's clock: the job's createdAt)
local score = redis.call('ZSCORE', KEYS[10], ARGV[3])
if not score or tonumber(score) ~= tonumber(ARGV[4]) then return 0 end
local hk = ARGV[2] .. ARGV[3]
local s = redis.call('HMGET', hk, 'name', 'data', 'opts', 'priority', 'count', 'limit')
if not s[1] then
  redis.call('ZREM', KEYS[10], ARGV[3])
  return 0
end
local count = tonumber(s[5] or '0')
if ARGV[6] == '1' then
  count = count + 1
  local jk = ARGV[1] .. ARGV[7]
  if redis.call('EXISTS', jk) == 0 then
    local prio = tonumber(s[4])
    local seq = redis.call('INCR', KEYS[8])
    redis.call('HSET', jk, 'name', s[1], 'data', s[2], 'opts', s[3], 'priority', prio, 'state', 'waiting',
      'attemptsMade', 0, 'stalledCount', 0, 'createdAt', ARGV[8])
    redis.call('ZADD', KEYS[1], string.format('%.0f', (10 - prio) * 17592186044416 + seq), ARGV[7])
    redis.call('LPUSH', KEYS[9], '1')
    redis.call('LTRIM', KEYS[9], 0, 0)
  end
end
local limit = tonumber(s[6] or '')
if ARGV[5] == '' or (limit and count >= limit) then
  redis.call('ZREM', KEYS[10], ARGV[3])
  redis.call('DEL', hk)
else
  redis.call('ZADD', KEYS[10], ARGV[5], ARGV[3])
  redis.call('HSET', hk, 'next', ARGV[5], 'count', count)
end
return 1

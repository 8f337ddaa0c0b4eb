-- Adds one job of a flow (parent/child jobs) to this queue. A job with children is parked in
-- `waiting-children` with its pending dependency set (every child's `<queue>:<id>`) written in the same step,
-- before any child exists: it cannot run before each of its children completed (flow-resolve.lua releases it).
-- A child records its parent (`pq` queue, `pid` id) and its failure policy (`pp`); `ck` is its own
-- `<queue>:<id>`, the name its parent knows it by. An id that exists is a duplicate, left as it is (adding the
-- same flow again after a crash midway adds only what is missing).
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake  KEYS[10] waiting-children  KEYS[11] flow outbox
-- ARGV[1] job key prefix  ARGV[2] now  ARGV[3] id  ARGV[4] name  ARGV[5] data  ARGV[6] opts  ARGV[7] priority
-- ARGV[8] delay ms  ARGV[9] ck  ARGV[10] parent queue ('' none)  ARGV[11] parent id
-- ARGV[12] policy on final failure: fail | ignore | remove | wait  ARGV[13] where it goes when a child fails
-- it: failed | dead  ARGV[14] n dependencies  ARGV[15..] dependencies
-- Returns 1 added, 0 duplicate.
if redis.replicate_commands then redis.replicate_commands() end -- TIME before writes (Redis < 5)
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = ARGV[3]
local jk = ARGV[1] .. id
if redis.call('EXISTS', jk) == 1 then return 0 end
local prio = tonumber(ARGV[7])
local delay = tonumber(ARGV[8])
local ndeps = tonumber(ARGV[14])
redis.call('HSET', jk, 'name', ARGV[4], 'data', ARGV[5], 'opts', ARGV[6], 'priority', prio, 'attemptsMade', 0,
  'stalledCount', 0, 'createdAt', ARGV[2], 'ck', ARGV[9], 'pf', ARGV[13])
if ARGV[10] ~= '' then redis.call('HSET', jk, 'pq', ARGV[10], 'pid', ARGV[11], 'pp', ARGV[12]) end
if ndeps > 0 then
  -- In slices: Lua's unpack has a C-stack limit of about 8,000 values (a parent may have more children).
  for i = 1, ndeps, 1000 do
    redis.call('SADD', jk .. ':deps', unpack(ARGV, 14 + i, 14 + math.min(i + 999, ndeps)))
  end
  redis.call('HSET', jk, 'state', 'waiting-children')
  redis.call('ZADD', KEYS[10], ARGV[2], id)
  return 1
end
local seq = redis.call('INCR', KEYS[8])
if delay > 0 then
  local due = string.format('%.0f', clock + delay)
  redis.call('HSET', jk, 'state', 'delayed', 'delayUntil', due)
  redis.call('ZADD', KEYS[2], due, id)
else
  redis.call('HSET', jk, 'state', 'waiting')
  redis.call('ZADD', KEYS[1], string.format('%.0f', (10 - prio) * 17592186044416 + seq), id)
end
redis.call('LPUSH', KEYS[9], '1')
redis.call('LTRIM', KEYS[9], 0, 0)
return 1

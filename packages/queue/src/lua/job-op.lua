-- One operation on one job, atomic against workers (they move jobs with scripts on the same keys).
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake  KEYS[10] events  KEYS[11] groups  KEYS[12] group set
-- KEYS[13] group line key prefix (a grouped queue's waiting jobs sit in their group's line, not in `wait`)
-- KEYS[14] waiting-children  KEYS[15] flow outbox
-- ARGV[1] job key prefix  ARGV[2] operation  ARGV[3] id  ARGV[4] argument:
--   remove          drops the hash and its index entry; refused while active (a worker holds it), and when ARGV[4]
--                   (comma-separated states) is given, refused in any state not listed
--   retry           failed | dead → waiting, attempts and stall count reset (history kept)
--   promote         delayed → waiting now
--   priority        ARGV[4] the new priority (0..10); a waiting job is re-queued at the end of its new level
--   data            ARGV[4] the new data (JSON)
--   progress        ARGV[4] lease token, ARGV[5] progress (JSON): only while that token holds the job
-- Returns { 1, state before } done; { 0, state } refused in that state; { 0, '' } no such job.
local prefix, op, id = ARGV[1], ARGV[2], ARGV[3]
local jk = prefix .. id
local state = redis.call('HGET', jk, 'state')
if not state then return { 0, '' } end
local SHIFT = 17592186044416 -- 2^44, as add.lua
local index = { waiting = 1, delayed = 2, active = 3, completed = 4, failed = 5, dead = 6 }

local function enqueue()
  local prio = tonumber(redis.call('HGET', jk, 'priority'))
  local seq = redis.call('INCR', KEYS[8])
  redis.call('ZADD', KEYS[1], string.format('%.0f', (10 - prio) * SHIFT + seq), id)
  redis.call('HSET', jk, 'state', 'waiting')
  redis.call('LPUSH', KEYS[9], '1')
  redis.call('LTRIM', KEYS[9], 0, 0)
end

-- A waiting job out of its group's line: the group, or nil when it was not in one. An emptied line stays
-- listed; the next fetch drops it (as when its last job is fetched), so the round-robin list never holds a
-- group twice.
local function ungroup()
  if state ~= 'waiting' then return nil end
  local g = redis.call('HGET', jk, 'group')
  if g and redis.call('ZREM', KEYS[13] .. g, id) == 1 then return g end
  return nil
end

if op == 'remove' then
  -- A flow parent waiting for its children: refused (its children would report to nothing).
  if state == 'active' or state == 'waiting-children' then return { 0, state } end
  local only = ARGV[4]
  if only and only ~= '' and not string.find(',' .. only .. ',', ',' .. state .. ',', 1, true) then
    return { 0, state }
  end
  for i = 1, 6 do
    if i ~= 3 then redis.call('ZREM', KEYS[i], id) end
  end
  ungroup()
  redis.call('DEL', jk, jk .. ':deps', jk .. ':processed', jk .. ':failed')
elseif op == 'retry' then
  if state ~= 'failed' and state ~= 'dead' then return { 0, state } end
  redis.call('ZREM', KEYS[index[state]], id)
  redis.call('HSET', jk, 'attemptsMade', 0, 'stalledCount', 0)
  redis.call('HDEL', jk, 'finishedAt', 'processedAt', 'delayUntil', 'result', 'progress')
  enqueue()
elseif op == 'promote' then
  if state ~= 'delayed' then return { 0, state } end
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', jk, 'delayUntil')
  enqueue()
elseif op == 'priority' then
  redis.call('HSET', jk, 'priority', ARGV[4])
  if state == 'waiting' then
    local g = ungroup()
    if g then
      local seq = redis.call('INCR', KEYS[8])
      redis.call('ZADD', KEYS[13] .. g, string.format('%.0f', (10 - tonumber(ARGV[4])) * SHIFT + seq), id)
    else
      redis.call('ZREM', KEYS[1], id)
      enqueue()
    end
  end
elseif op == 'data' then
  redis.call('HSET', jk, 'data', ARGV[4])
elseif op == 'progress' then
  if redis.call('HGET', jk, 'token') ~= ARGV[4] then return { 0, state } end
  redis.call('HSET', jk, 'progress', ARGV[5])
end
return { 1, state }

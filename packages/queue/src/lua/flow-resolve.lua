-- The second step of a child's completion or final failure, on the PARENT's queue (its slot; the child's
-- queue may be in another one): applies one outbox entry, idempotently. The child's `<queue>:<id>` leaves the
-- parent's pending set once: a repeat (the sweep re-applying an entry whose first application was not yet
-- acknowledged) finds it gone and changes nothing.
--   completed  the child's result is stored with the parent (`:processed`, child key → result JSON)
--   ignore     the child's last error is stored (`:failed`) and the parent goes on without it
--   remove     the dependency is dropped, nothing recorded
--   fail       the parent fails (to `failed`, or `dead` when its queue has a DLQ) while it waits for
--              children; when it has a parent of its own, an outbox entry of this queue passes that on
-- With the pending set empty, the parent moves from `waiting-children` to `wait`.
-- The parent's move is appended to its queue's events stream in the same step (ARGV[7] > 0: the calling
-- process publishes events), so it comes before the parent's `active` event whoever fetches it: `waiting` with
-- `prev: 'waiting-children'`, or `failed` (willRetry false) and, with a DLQ, `dead`. One entry per event (field
-- `e`), trimmed as events-add.lua (events-trim.lua is prepended).
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake  KEYS[10] waiting-children  KEYS[11] flow outbox  KEYS[12] events
-- ARGV[1] job key prefix  ARGV[2] now  ARGV[3] parent id  ARGV[4] child key  ARGV[5] kind  ARGV[6] value (JSON)
-- ARGV[7] events maxLen (0: publish none)  ARGV[8] events maxAgeMs (0: no age limit)
-- Returns 0 nothing to do (parent gone, or applied before), 1 applied, 2 parent released to wait,
-- 3 parent failed (4: and an outbox entry for its own parent was written).
if redis.replicate_commands then redis.replicate_commands() end -- XADD's id and TIME before writes (Redis < 5)
local function publish(events)
  local maxLen = tonumber(ARGV[7])
  if maxLen <= 0 then return end
  local entries = {}
  for _, e in ipairs(events) do entries[#entries + 1] = { 'e', e, 1 } end
  events_append(KEYS[12], maxLen, tonumber(ARGV[8]), entries)
end
local function after_last(key, t)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2]
  if last and tonumber(last) >= t then t = tonumber(last) + 1 / 1024 end
  return string.format('%.17g', t)
end
local prefix, now, pid, ck, kind, value = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local jk = prefix .. pid
if redis.call('EXISTS', jk) == 0 then return 0 end
local deps = jk .. ':deps'
if redis.call('SREM', deps, ck) == 0 then return 0 end
if kind == 'completed' then
  redis.call('HSET', jk .. ':processed', ck, value)
elseif kind == 'ignore' or kind == 'fail' then
  redis.call('HSET', jk .. ':failed', ck, value)
end
if redis.call('HGET', jk, 'state') ~= 'waiting-children' then return 1 end
if kind == 'fail' then
  redis.call('ZREM', KEYS[10], pid)
  local f = redis.call('HMGET', jk, 'attemptsMade', 'errors', 'pf', 'pq', 'pid', 'pp', 'ck')
  local entry = cjson.encode({ attempt = tonumber(f[1]) + 1, name = 'ChildJobFailedError', code = 'CHILD_FAILED',
    message = 'child job "' .. ck .. '" failed', child = ck, at = tonumber(now) })
  local errs = f[2]
  if errs then errs = string.sub(errs, 1, -2) .. ',' .. entry .. ']' else errs = '[' .. entry .. ']' end
  local to = f[3] == 'dead' and 'dead' or 'failed'
  redis.call('HSET', jk, 'state', to, 'finishedAt', now, 'errors', errs)
  redis.call('ZADD', to == 'dead' and KEYS[6] or KEYS[5], after_last(to == 'dead' and KEYS[6] or KEYS[5], tonumber(now)), pid)
  local jid = cjson.encode(pid)
  local events = { '{"event":"failed","jobId":' .. jid .. ',"error":' .. entry .. ',"willRetry":false}' }
  if to == 'dead' then events[2] = '{"event":"dead","jobId":' .. jid .. ',"error":' .. entry .. '}' end
  publish(events)
  if f[4] and f[6] ~= 'wait' then
    redis.call('HSET', KEYS[11], pid, cjson.encode({ q = f[4], id = f[5], ck = f[7], k = f[6], v = entry }))
    return 4
  end
  return 3
end
if redis.call('SCARD', deps) > 0 then return 1 end
redis.call('ZREM', KEYS[10], pid)
local prio = tonumber(redis.call('HGET', jk, 'priority'))
local seq = redis.call('INCR', KEYS[8])
redis.call('HSET', jk, 'state', 'waiting')
redis.call('ZADD', KEYS[1], string.format('%.0f', (10 - prio) * 17592186044416 + seq), pid)
publish({ '{"event":"waiting","jobId":' .. cjson.encode(pid) .. ',"prev":"waiting-children"}' })
redis.call('LPUSH', KEYS[9], '1')
redis.call('LTRIM', KEYS[9], 0, 0)
return 2

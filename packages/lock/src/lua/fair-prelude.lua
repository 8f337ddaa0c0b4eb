-- Shared by the exclusive scripts (prepended to each): fencing tokens and the FIFO hand-off.
-- KEYS[1] owners   hash  'mode' -> exclusive|shared, 't:<token>' -> reentrant count, 'f:<token>' -> its fence,
--                  'w' -> 1 once a request was refused while it was held: only then does its release publish
--                  a wake-up (an uncontended release publishes nothing)
-- KEYS[2] counter  fencing tokens of every lock of the prefix (Cluster: of the hash slot); never reset, the
--                  one key a lock leaves behind
-- KEYS[3] queue    list  waiting tokens, oldest first (fair mode)
-- KEYS[4] qinfo    hash  token -> '<expiry ms>:<ttl ms>' of each queued waiter: its entry lives until expiry
--                  (refreshed while it waits), ttl is the lease it asked for
-- KEYS[5] waiters  zset  token -> expiry of registered exclusive waiters (writer preference: readers wait)
-- KEYS[6] legacy   the per-lock fence counter of v1, folded into KEYS[2] once and deleted
local function serverNow()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function nextFence()
  local fence = redis.call('INCR', KEYS[2])
  if redis.call('EXISTS', KEYS[6]) == 1 then
    local old = tonumber(redis.call('GET', KEYS[6])) or 0
    if old >= fence then
      fence = old + 1
      redis.call('SET', KEYS[2], fence)
    end
    redis.call('DEL', KEYS[6])
  end
  return fence
end

-- Makes `token` the exclusive holder of the (free) lock for `ttl` ms; returns its fencing token.
local function grant(token, ttl)
  local fence = nextFence()
  redis.call('HSET', KEYS[1], 'mode', 'exclusive', 't:' .. token, 1, 'f:' .. token, fence)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return fence
end

local function dequeue(token)
  redis.call('HDEL', KEYS[4], token)
  redis.call('ZREM', KEYS[5], token)
end

-- The oldest live waiter and the ttl it asked for; entries that expired (their waiter died or left) are
-- dropped on the way. nil when none waits.
local function liveHead(now)
  while true do
    local head = redis.call('LINDEX', KEYS[3], 0)
    if not head then return nil end
    local info = redis.call('HGET', KEYS[4], head)
    if info then
      local sep = string.find(info, ':', 1, true)
      local expiry = tonumber(string.sub(info, 1, sep - 1))
      if expiry > now then return head, tonumber(string.sub(info, sep + 1)), expiry end
    end
    redis.call('LPOP', KEYS[3])
    dequeue(head)
  end
end

-- Hands the free lock to the queue's head (from liveHead) and tells it on the release channel:
-- '<fence>:<server ms>:<ttl granted>:<token>'. The lease granted lasts no longer than the waiter's entry would
-- have (a waiter that died a moment ago blocks the lock no longer than its entry; a live one extends it).
local function handOff(head, ttl, expiry, now, channel)
  redis.call('LPOP', KEYS[3])
  dequeue(head)
  local granted = math.max(1, math.min(ttl, expiry - now))
  local fence = grant(head, granted)
  redis.call('PUBLISH', channel, fence .. ':' .. now .. ':' .. granted .. ':' .. head)
end

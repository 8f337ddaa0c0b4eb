-- Acquire (or re-enter) a lock in one atomic step: shared requests, and non-fair exclusive ones the fast path
-- (acquire-exclusive.lua) left here or that drop a writer-preference registration.
-- An exclusive hold is KEYS[1] alone: its PEXPIRE is the holder's expiry. Shared holds also keep KEYS[2], one
-- expiry per holder on the server's clock.
-- KEYS[1] owners   hash  'mode' -> exclusive|shared, 't:<token>' -> reentrant count, 'f:<token>' -> its fence
-- KEYS[2] expiry   zset  token -> expiry ms of each shared holder (the key expires with the last of them)
-- KEYS[3] counter  fencing tokens of every lock of the prefix (Cluster: of the hash slot), never reset
-- KEYS[4] waiters  zset  token -> expiry ms of registered exclusive waiters
-- KEYS[5] legacy   the per-lock fence counter of v1, folded into KEYS[3] once and deleted
-- ARGV[1] token, ARGV[2] mode, ARGV[3] ttl ms, ARGV[4] writer preference '1'|'0' (on an exclusive request:
-- remove the caller's waiter registration with the grant)
-- Returns {1, fencingToken, count, ttl ms left} or {0, retryAfterMs}.
-- A reentrant hold keeps the fencing token of its first acquisition and is never shortened by a re-entry.
local token, want, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local field, fenceField = 't:' .. token, 'f:' .. token
local held = redis.call('HMGET', KEYS[1], 'mode', field, fenceField)
local mode = held[1]

local function nextFence()
  local fence = redis.call('INCR', KEYS[3])
  if redis.call('EXISTS', KEYS[5]) == 1 then
    local old = tonumber(redis.call('GET', KEYS[5])) or 0
    if old >= fence then
      fence = old + 1
      redis.call('SET', KEYS[3], fence)
    end
    redis.call('DEL', KEYS[5])
  end
  return fence
end

local function grantExclusive()
  local fence = nextFence()
  redis.call('HSET', KEYS[1], 'mode', 'exclusive', field, 1, fenceField, fence)
  redis.call('PEXPIRE', KEYS[1], ttl)
  if ARGV[4] == '1' then
    -- A writer that registered as a waiter: readers may wait behind it, its release must publish.
    redis.call('ZREM', KEYS[4], token)
    redis.call('HSET', KEYS[1], 'w', 1)
  end
  return {1, fence, 1, ttl}
end

if mode == 'exclusive' then
  if held[2] and want == 'exclusive' then
    local count = redis.call('HINCRBY', KEYS[1], field, 1)
    local left = redis.call('PTTL', KEYS[1])
    if left < ttl then
      redis.call('PEXPIRE', KEYS[1], ttl)
      left = ttl
    end
    return {1, tonumber(held[3]), count, left}
  end
  -- Refused by an exclusive holder: its release must publish (release-exclusive.lua reads 'w').
  redis.call('HSET', KEYS[1], 'w', 1)
  return {0, math.max(0, redis.call('PTTL', KEYS[1]))}
end
-- Free: the fast path.
-- (An exclusive hold never reads KEYS[2]; leftovers there, should the hash be deleted from outside under
-- shared holders, expire on their own and are dropped by the next shared request below.)
if not mode and want == 'exclusive' then return grantExclusive() end

-- Shared holders (or a shared request on a free lock): per-holder expiries on the server's clock.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if not mode then redis.call('DEL', KEYS[2]) end
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, tok in ipairs(dead) do redis.call('HDEL', KEYS[1], 't:' .. tok, 'f:' .. tok) end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
local waiting = false
if ARGV[4] == '1' then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
  waiting = redis.call('ZCARD', KEYS[4]) > 0
end
local live = redis.call('ZCARD', KEYS[2])

local function hint()
  local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  if last[2] then return math.max(0, tonumber(last[2]) - now) end
  return 0
end

if live == 0 then
  if want == 'exclusive' then
    redis.call('DEL', KEYS[1], KEYS[2])
    return grantExclusive()
  end
  if waiting then return {0, 0} end
  redis.call('DEL', KEYS[1])
  local fence = nextFence()
  redis.call('HSET', KEYS[1], 'mode', 'shared', field, 1, fenceField, fence)
  redis.call('ZADD', KEYS[2], now + ttl, token)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  return {1, fence, 1, ttl}
end
-- Live shared holders: an exclusive request waits; a new reader waits behind a registered writer.
if want == 'exclusive' then return {0, hint()} end
local mine = held[2] and redis.call('ZSCORE', KEYS[2], token)
if waiting and not mine then return {0, hint()} end
local count = redis.call('HINCRBY', KEYS[1], field, 1)
local fence
if mine then
  fence = tonumber(held[3])
else
  fence = nextFence()
  redis.call('HSET', KEYS[1], fenceField, fence)
end
-- GT: a re-entry with a shorter ttl keeps the longer expiry.
redis.call('ZADD', KEYS[2], 'GT', now + ttl, token)
local left = tonumber(redis.call('ZSCORE', KEYS[2], token)) - now
local keep = math.max(1, hint())
redis.call('PEXPIRE', KEYS[1], keep)
redis.call('PEXPIRE', KEYS[2], keep)
return {1, fence, count, left}

-- Acquire (or re-enter) a lock in one atomic step. Time is the server's (TIME), so every client agrees.
-- KEYS[1] owners   hash  't:<token>' -> reentrant count, 'mode' -> exclusive|shared
-- KEYS[2] expiry   zset  token -> expiry ms (the key itself expires with the last holder)
-- KEYS[3] fence    counter of fencing tokens (never reset)
-- KEYS[4] waiters  zset  token -> expiry ms of registered exclusive waiters
-- ARGV[1] token, ARGV[2] mode, ARGV[3] ttl ms, ARGV[4] writer preference '1'|'0'
-- Returns {1, fencingToken, count} or {0, retryAfterMs}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local token, want, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])

-- Fast path: nobody holds it (the expiry set lives exactly as long as its last holder).
if redis.call('EXISTS', KEYS[2]) == 0 then
  if want == 'shared' and ARGV[4] == '1' and redis.call('ZCOUNT', KEYS[4], '(' .. now, '+inf') > 0 then
    return {0, 0}
  end
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'mode', want, 't:' .. token, 1)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('ZADD', KEYS[2], now + ttl, token)
  redis.call('PEXPIRE', KEYS[2], ttl)
  if ARGV[4] == '1' then redis.call('ZREM', KEYS[4], token) end
  return {1, redis.call('INCR', KEYS[3]), 1}
end

local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, tok in ipairs(dead) do redis.call('HDEL', KEYS[1], 't:' .. tok) end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
local live = redis.call('ZCARD', KEYS[2])
local mode = false
if live > 0 then mode = redis.call('HGET', KEYS[1], 'mode') end
local waiting = ARGV[4] == '1' and redis.call('ZCARD', KEYS[4]) > 0
local ok
if redis.call('HEXISTS', KEYS[1], 't:' .. token) == 1 and live > 0 then
  ok = (mode == want)
elseif live == 0 then
  ok = not (want == 'shared' and waiting)
else
  ok = (want == 'shared' and mode == 'shared' and not waiting)
end
if not ok then
  local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  local hint = 0
  if last[2] then hint = math.max(0, tonumber(last[2]) - now) end
  return {0, hint}
end
if live == 0 then redis.call('DEL', KEYS[1]) end
local count = redis.call('HINCRBY', KEYS[1], 't:' .. token, 1)
redis.call('HSET', KEYS[1], 'mode', want)
redis.call('ZADD', KEYS[2], now + ttl, token)
redis.call('ZREM', KEYS[4], token)
local fence = redis.call('INCR', KEYS[3])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
local keep = math.max(1, tonumber(last[2]) - now)
redis.call('PEXPIRE', KEYS[1], keep)
redis.call('PEXPIRE', KEYS[2], keep)
return {1, fence, count}

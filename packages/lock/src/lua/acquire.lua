-- Acquire (or re-enter) a lock in one atomic step. Time is the server's (TIME), so every client agrees.
-- KEYS[1] owners   hash  't:<token>' -> reentrant count, 'mode' -> exclusive|shared
-- KEYS[2] expiry   zset  token -> expiry ms
-- KEYS[3] fence    counter of fencing tokens (never reset)
-- KEYS[4] waiters  zset  token -> expiry ms of registered exclusive waiters
-- ARGV[1] token, ARGV[2] mode, ARGV[3] ttl ms, ARGV[4] writer preference '1'|'0'
-- Returns {1, fencingToken, count} or {0, retryAfterMs}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, tok in ipairs(dead) do redis.call('HDEL', KEYS[1], 't:' .. tok) end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
local token, want, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
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

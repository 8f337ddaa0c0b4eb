-- Take `permits` permits of a counting semaphore for a new holder, if that many are free (expired holders are
-- dropped first: a dead holder's permits come back when its lease runs out).
-- KEYS[1] holders  hash  holder id -> permits it holds
-- KEYS[2] expiry   zset  holder id -> lease expiry (server ms); both keys expire with the last lease
-- ARGV[1] holder id, ARGV[2] permits wanted, ARGV[3] the semaphore's limit, ARGV[4] ttl ms
-- Returns {1, permits left} when granted, {0, retryAfterMs, permits free} when not, {-1} when the id holds already.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, h in ipairs(dead) do redis.call('HDEL', KEYS[1], h) end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {-1} end
local used = 0
for _, n in ipairs(redis.call('HVALS', KEYS[1])) do used = used + tonumber(n) end
local want, limit, ttl = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if used + want > limit then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  local hint = 0
  if first[2] then hint = math.max(0, tonumber(first[2]) - now) end
  return {0, hint, math.max(0, limit - used)}
end
redis.call('HSET', KEYS[1], ARGV[1], want)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
local keep = math.max(1, tonumber(last[2]) - now)
redis.call('PEXPIRE', KEYS[1], keep)
redis.call('PEXPIRE', KEYS[2], keep)
return {1, limit - used - want}

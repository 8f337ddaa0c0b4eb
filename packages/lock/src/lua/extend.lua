-- Extend one holder's lease if, and only if, it still holds the lock in that mode (compare-token).
-- KEYS[1] owners, KEYS[2] expiry (see acquire.lua for their shape)
-- ARGV[1] token, ARGV[2] mode, ARGV[3] ttl ms
-- Returns 1 when extended, 0 when the token no longer holds it (expired, released or never held).
local held = redis.call('HMGET', KEYS[1], 'mode', 't:' .. ARGV[1])
if held[1] ~= ARGV[2] or not held[2] then return 0 end
local ttl = tonumber(ARGV[3])
if ARGV[2] == 'exclusive' then
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 1
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiry = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not expiry or tonumber(expiry) <= now then return 0 end
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
local keep = math.max(1, tonumber(last[2]) - now)
redis.call('PEXPIRE', KEYS[1], keep)
redis.call('PEXPIRE', KEYS[2], keep)
return 1

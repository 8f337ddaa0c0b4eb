-- Convert one owner's read/write hold in place (read/write lock upgrade and downgrade), on the lock's own keys.
--   to 'shared'    (downgrade): always, when the token holds the lock exclusively; waiting readers are woken.
--   to 'exclusive' (upgrade):   only when the token is the sole live reader; never waits (see rw-lock.ts).
-- KEYS[1] owners, KEYS[2] expiry, KEYS[3] counter (the fencing-token counter of the prefix or hash slot, the
-- lock manager's: an upgrade's token is greater than any the key had), KEYS[4] the v1 per-lock fence counter
-- (folded into KEYS[3] once and deleted). See acquire.lua for their shape.
-- ARGV[1] token, ARGV[2] 'shared'|'exclusive' (the mode to convert to), ARGV[3] ttl ms, ARGV[4] release channel
-- Returns {1, fencingToken} when converted (a downgrade returns 0: the lease keeps its token),
-- {0, otherReaders} when an upgrade is refused, {-1} when the token does not hold the lock in the other mode.
local token, to, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local field = 't:' .. token
local held = redis.call('HMGET', KEYS[1], 'mode', field)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if to == 'shared' then
  if held[1] ~= 'exclusive' or not held[2] then return {-1} end
  redis.call('HSET', KEYS[1], 'mode', 'shared')
  redis.call('DEL', KEYS[2])
  redis.call('ZADD', KEYS[2], now + ttl, token)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('PUBLISH', ARGV[4], token)
  return {1, 0}
end
if held[1] ~= 'shared' or not held[2] then return {-1} end
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, tok in ipairs(dead) do redis.call('HDEL', KEYS[1], 't:' .. tok) end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
if not redis.call('ZSCORE', KEYS[2], token) then return {-1} end
local readers = redis.call('ZCARD', KEYS[2])
if readers > 1 then return {0, readers - 1} end
local fence = redis.call('INCR', KEYS[3])
if redis.call('EXISTS', KEYS[4]) == 1 then
  local old = tonumber(redis.call('GET', KEYS[4])) or 0
  if old >= fence then
    fence = old + 1
    redis.call('SET', KEYS[3], fence)
  end
  redis.call('DEL', KEYS[4])
end
-- The hold's token changes with its mode: a re-entry through the manager returns the new one.
redis.call('HSET', KEYS[1], 'mode', 'exclusive', 'f:' .. token, fence)
redis.call('DEL', KEYS[2])
redis.call('PEXPIRE', KEYS[1], ttl)
return {1, fence}

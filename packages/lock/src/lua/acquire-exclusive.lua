-- Exclusive acquire (fair or not), or re-entry of a lock this token holds exclusively. Keys: see the prelude.
-- ARGV[1] token, ARGV[2] ttl ms, ARGV[3] queue entry ms (> 0: a refused fair caller joins the queue, or
-- refreshes its entry there), ARGV[4] fair '1'|'0', ARGV[5] waiting '1'|'0' (the caller is a queued waiter: a
-- hold it has was handed to it, not re-entered), ARGV[6] release channel
-- Returns {1, fencingToken, count, ttl ms left}, {0, retryAfterMs, server ms} (refused; queued when asked) or
-- {-1} (a non-fair request on a lock shared holders have: acquire.lua decides).
local token, ttl = ARGV[1], tonumber(ARGV[2])
local queueTtl, fair, channel = tonumber(ARGV[3]), ARGV[4] == '1', ARGV[6]
local field = 't:' .. token
local held = redis.call('HMGET', KEYS[1], 'mode', field, 'f:' .. token)
if held[1] == 'exclusive' and held[2] then
  -- One fencing token for the whole reentrant hold; a re-entry never shortens it.
  local left = redis.call('PTTL', KEYS[1])
  if ARGV[5] == '1' then return {1, tonumber(held[3]), tonumber(held[2]), left} end
  local count = redis.call('HINCRBY', KEYS[1], field, 1)
  if left < ttl then
    redis.call('PEXPIRE', KEYS[1], ttl)
    left = ttl
  end
  return {1, tonumber(held[3]), count, left}
end
local now
if not held[1] then
  if not fair or redis.call('EXISTS', KEYS[3]) == 0 then
    return {1, grant(token, ttl), 1, ttl}
  end
  now = serverNow()
  local head, headTtl, expiry = liveHead(now)
  if not head or head == token then
    if head then
      redis.call('LPOP', KEYS[3])
    end
    dequeue(token)
    return {1, grant(token, ttl), 1, ttl}
  end
  -- Free, but others queued first (their holder expired): the lock goes to the oldest, the caller waits.
  handOff(head, headTtl, expiry, now, channel)
elseif held[1] ~= 'exclusive' and not fair then
  return {-1}
end
local pttl = redis.call('PTTL', KEYS[1])
local hint = math.max(0, pttl)
-- Refused while held: the holder's release must publish (see 'w' in the prelude).
if pttl > 0 then redis.call('HSET', KEYS[1], 'w', 1) end
if queueTtl <= 0 then return {0, hint, 0} end
now = now or serverNow()
local expiry = now + queueTtl
if redis.call('HSET', KEYS[4], token, expiry .. ':' .. ttl) == 1 then redis.call('RPUSH', KEYS[3], token) end
redis.call('ZADD', KEYS[5], expiry, token)
for i = 3, 5 do
  if redis.call('PTTL', KEYS[i]) < queueTtl then redis.call('PEXPIRE', KEYS[i], queueTtl) end
end
return {0, hint, now}

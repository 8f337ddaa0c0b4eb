-- A queued waiter gives up (timeout, abort, close): its entry goes; if the lock was handed to it meanwhile,
-- it is released at once and handed on. Keys: see the prelude. ARGV[1] token, ARGV[2] channel
-- Returns 1 when a hold handed to the caller was released, else 0.
local token = ARGV[1]
redis.call('LREM', KEYS[3], 0, token)
dequeue(token)
local held = redis.call('HMGET', KEYS[1], 'mode', 't:' .. token)
if held[1] ~= 'exclusive' or not held[2] then return 0 end
redis.call('DEL', KEYS[1])
local now = serverNow()
local head, ttl, expiry = liveHead(now)
if head then
  handOff(head, ttl, expiry, now, ARGV[2])
else
  redis.call('PUBLISH', ARGV[2], '')
end
return 1

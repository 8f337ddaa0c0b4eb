-- Release, second part (after release-exclusive-head.lua and the prelude): the last level is gone and waiters
-- are queued — the lock is handed to the oldest live one in this same step (told on the channel), else waiters
-- are woken. `held` is the head's.
local now = serverNow()
local head, ttl, expiry = liveHead(now)
if head then
  handOff(head, ttl, expiry, now, ARGV[2])
  return 0
end
if held[3] then redis.call('PUBLISH', ARGV[2], '') end
return 0

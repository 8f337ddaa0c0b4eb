-- An operator frees a lock whatever holds it (the holder's next extend or release finds it lost; its fencing
-- token is already stale for any fenced write after the next grant). A queued fair waiter gets the lock in the
-- same step, as on a release; otherwise waiters are woken. Keys: see the prelude, plus KEYS[7] expiry (shared).
-- ARGV[1] channel to publish on. Returns the number of holders removed.
local owners = redis.call('HGETALL', KEYS[1])
local removed = 0
for i = 1, #owners, 2 do
  if string.sub(owners[i], 1, 2) == 't:' then removed = removed + 1 end
end
redis.call('DEL', KEYS[1], KEYS[7])
local now = serverNow()
if redis.call('EXISTS', KEYS[3]) == 1 then
  local head, ttl, expiry = liveHead(now)
  if head then
    handOff(head, ttl, expiry, now, ARGV[1])
    return removed
  end
end
redis.call('PUBLISH', ARGV[1], '')
return removed

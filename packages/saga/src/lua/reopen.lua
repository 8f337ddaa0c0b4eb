-- Retry a dead letter: in ONE script, durably restart the saga's compensation and remove its dead letters.
-- A failure anywhere before this script leaves the entry in place; after it, the saga is `compensating` with a
-- lease in the recovery index, so a sweeper finishes it if this orchestrator dies. Never both lost.
-- KEYS[1] the partition's DLQ stream   KEYS[2] the partition's recovery-index prefix (+ saga name)   KEYS[3] the partition's saga-hash
-- key prefix (all three share the partition's {slot})
-- ARGV[1] stream entry id, ARGV[2] new owner, ARGV[3] lease ms
-- Returns {1, saga id, HGETALL of the claimed saga}; {0, 'missing'} (no such entry), {0, 'gone'} (the saga hash
-- expired: the entry stays for an operator), {0, 'busy'} (a live owner is compensating it).
local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #e == 0 then return {0, 'missing'} end
local sagaId
local f = e[1][2]
for i = 1, #f, 2 do if f[i] == 'saga_id' then sagaId = f[i + 1] end end
if not sagaId then return {0, 'missing'} end
local key = KEYS[3] .. sagaId
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cur = redis.call('HMGET', key, 'status', 'lease_until', 'dead_letters', 'saga')
if not cur[1] then return {0, 'gone'} end
if not (cur[1] == 'compensation_failed' or (cur[1] == 'compensating' and tonumber(cur[2]) <= now)) then
  return {0, 'busy'}
end
local untilMs = now + tonumber(ARGV[3])
redis.call('HINCRBY', key, 'version', 1)
redis.call('HSET', key, 'status', 'compensating', 'owner', ARGV[2], 'lease_until', untilMs, 'updated_at', now)
redis.call('HDEL', key, 'dead_letters')
redis.call('PERSIST', key)
redis.call('ZADD', KEYS[2] .. (cur[4] or ''), untilMs, sagaId)
redis.call('XDEL', KEYS[1], ARGV[1])
if cur[3] then
  for id in string.gmatch(cur[3], '[^,]+') do redis.call('XDEL', KEYS[1], id) end
end
return {1, sagaId, redis.call('HGETALL', key)}

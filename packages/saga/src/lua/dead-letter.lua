-- Park one failed compensation in the partition's DLQ stream and note its id on the saga (same {slot}), so
-- the retry's script removes every entry of the saga at once.
-- KEYS[1] the partition's DLQ stream   KEYS[2] the saga hash
-- ARGV[1] max entries kept per partition (retention; 0: unbounded), ARGV[2..] field/value pairs
-- Returns the stream entry id.
local id
if tonumber(ARGV[1]) > 0 then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], '*', unpack(ARGV, 2))
else
  id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  local prev = redis.call('HGET', KEYS[2], 'dead_letters')
  redis.call('HSET', KEYS[2], 'dead_letters', prev and (prev .. ',' .. id) or id)
end
return id

-- Appends one event to its type stream and to the all-events stream, atomically, in one round trip.
-- KEYS[1] events:{type}
-- KEYS[2] events:all
-- ARGV[1] approximate MAXLEN for events:all ('0' = no cap)
-- ARGV[2..] field, value, field, value, …
-- Returns the entry's id in events:{type}.
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
if ARGV[1] ~= '0' then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 2))
else
  redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
end
return id

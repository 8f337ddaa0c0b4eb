-- Appends a batch of queue events (those one process published in the same tick) to the queue's event
-- stream, trimmed to about `maxLen` entries (MAXLEN ~: whole macro nodes, cheap) and, with `maxAgeMs`, past
-- entries older than that on the server's clock (XTRIM MINID: stream ids are the server's milliseconds).
-- KEYS[1] the events stream
-- ARGV[1] maxLen  ARGV[2] maxAgeMs (0: no age limit)  ARGV[3..] events (JSON)
-- Returns the number of events added.
if redis.replicate_commands then redis.replicate_commands() end
for i = 3, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[i])
end
local age = tonumber(ARGV[2])
if age > 0 then
  local t = redis.call('TIME')
  local floor = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - age
  if floor > 0 then redis.call('XTRIM', KEYS[1], 'MINID', string.format('%.0f', floor)) end
end
return #ARGV - 2

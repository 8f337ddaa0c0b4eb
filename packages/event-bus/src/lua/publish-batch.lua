-- Appends a batch of events of one type, each to its type stream and to the all-events stream, in one call.
-- Every event is written to both streams or reported failed on its own: one event's error (redis.pcall) does
-- not stop the others, and no other command runs between its two XADDs.
-- KEYS[1] events:{type}
-- KEYS[2] events:all
-- ARGV[1] approximate MAXLEN for events:all ('0' = no cap)
-- ARGV[2..] per event: n (the number of field/value strings that follow), then field, value, …
-- Returns one reply per event, in order: its id in events:{type}, or an error reply.
local out = {}
local i = 2
while i <= #ARGV do
  local last = i + tonumber(ARGV[i])
  local id = redis.pcall('XADD', KEYS[1], '*', unpack(ARGV, i + 1, last))
  if type(id) == 'table' and id.err then
    out[#out + 1] = id
  else
    local all
    if ARGV[1] ~= '0' then
      all = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, i + 1, last))
    else
      all = redis.pcall('XADD', KEYS[2], '*', unpack(ARGV, i + 1, last))
    end
    if type(all) == 'table' and all.err then out[#out + 1] = all else out[#out + 1] = id end
  end
  i = last + 1
end
return out

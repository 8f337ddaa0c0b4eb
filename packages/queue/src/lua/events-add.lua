-- Appends a batch of queue events (those one process published in the same tick) to the queue's event stream,
-- as the publisher sliced them into entries (see events-trim.lua, prepended), and trims the stream to about
-- `maxLen` events and to `maxAgeMs`.
-- KEYS[1] the events stream
-- ARGV[1] maxLen (events)  ARGV[2] maxAgeMs (0: no age limit)  ARGV[3..] per entry: field (`e` or `b`), value,
-- its count of events
-- Returns the number of entries added.
if redis.replicate_commands then redis.replicate_commands() end
local entries = {}
for i = 3, #ARGV, 3 do
  entries[#entries + 1] = { ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]) }
end
events_append(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), entries)
return #entries

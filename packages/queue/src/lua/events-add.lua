-- Appends a batch of queue events (those one process published in the same tick) to the queue's event
-- stream, trimmed to about `maxLen` entries (MAXLEN ~: whole macro nodes, cheap).
-- KEYS[1] the events stream
-- ARGV[1] maxLen  ARGV[2..] events (JSON)
-- Returns the number of events added.
for i = 2, #ARGV do
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[i])
end
return #ARGV - 1

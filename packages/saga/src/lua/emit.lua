-- The transactional outbox (prepended to create, advance and complete): writes a transition's events in the
-- same script as the state. ARGV[first] is the number of event arguments that follow; each event is either
--   'o', type, payload JSON   → XADD to the partition's outbox stream (next key; the saga's slot) with `by` (the
--                               writing orchestrator, whose relay publishes it; a sweep takes over old ones)
--   'd', <ballast_publish args> → straight into the event bus's streams (next two keys: events:{type}, events:all)
-- KEYS from `k` on are the events' keys in order. Returns the index of the first argument after the events.
local function saga_emit(first, k, by)
  local stop = first + tonumber(ARGV[first])
  local i = first + 1
  while i <= stop do
    if ARGV[i] == 'o' then
      redis.call('XADD', KEYS[k], '*', 'type', ARGV[i + 1], 'payload', ARGV[i + 2], 'by', by)
      i = i + 3
      k = k + 1
    else
      local _, nxt = ballast_publish(KEYS[k], KEYS[k + 1], ARGV, i + 1)
      i = nxt
      k = k + 2
    end
  end
  return stop + 1
end

-- Claims one event for one run of an idempotent handler: sets an in-progress marker (the caller's token)
-- with a lease, only if no marker exists — so two deliveries racing each other never both run the handler.
-- KEYS[1] events:dedupe:{type}:<group>:…:<event_id>
-- ARGV[1] token of this run
-- ARGV[2] lease ms (the marker expires if the run dies without releasing it)
-- Returns 'claimed' (run the handler), 'done' (handled before: skip it) or 'busy' (another run holds it).
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 'claimed' end
if redis.call('GET', KEYS[1]) == 'done' then return 'done' end
return 'busy'

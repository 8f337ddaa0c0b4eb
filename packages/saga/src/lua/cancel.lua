-- Ask for a saga to be cancelled, from any process: its owner sees the flag at its next lease renewal (every
-- leaseMs / 3) and compensates; a sweeper resuming it compensates instead of going forward.
-- KEYS[1] saga hash   ARGV[1] reason
-- Returns 1 when the saga is in flight (flag set), 0 when it is missing or finished.
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'running' and status ~= 'compensating' then return 0 end
redis.call('HSET', KEYS[1], 'cancel_reason', ARGV[1])
return 1

-- Lease renewal and retry scheduling, for the consumer that owns the entries only: an entry another consumer
-- has meanwhile taken over (this one's lease lapsed) is left alone, so work is never stolen back.
-- KEYS[1] events:{type}
-- ARGV[1] group
-- ARGV[2] consumer
-- ARGV[3] idle ms to set ('-1': reset to 0, a renewal; otherwise retry scheduling via XCLAIM IDLE)
-- ARGV[4..] entry ids
-- Returns the ids it re-claimed.
local done = {}
for i = 4, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    if ARGV[3] == '-1' then
      redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    else
      redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'IDLE', ARGV[3], 'JUSTID')
    end
    done[#done + 1] = ARGV[i]
  end
end
return done

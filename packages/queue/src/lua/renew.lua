-- Extends the leases of active jobs still held by their tokens.
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake
-- ARGV[1] job key prefix  ARGV[2] new deadline (ms)  ARGV[3..] id, token, id, token, …
-- Returns the ids whose token no longer holds the job (lost leases).
local prefix = ARGV[1]
local lost = {}
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('HGET', prefix .. id, 'token') == ARGV[i + 1] then
    redis.call('ZADD', KEYS[3], 'XX', ARGV[2], id)
  else
    lost[#lost + 1] = id
  end
end
return lost

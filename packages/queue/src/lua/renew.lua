-- Extends the leases of active jobs still held by their tokens.
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake
-- ARGV[1] job key prefix  ARGV[2] lease ms (the new deadline: server time + lease ms)
-- ARGV[3..] id, token, id, token, …
-- Returns the ids whose token no longer holds the job (lost leases).
-- Schedules (due times, lease deadlines) are on the Redis server's clock, never a worker's: workers on
-- different hosts disagree about the time, the server is one clock for all of them.
if redis.replicate_commands then redis.replicate_commands() end -- TIME before writes (Redis < 5)
local t = redis.call('TIME')
local clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prefix = ARGV[1]
local deadline = string.format('%.0f', clock + tonumber(ARGV[2]))
local lost = {}
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('HGET', prefix .. id, 'token') == ARGV[i + 1] then
    redis.call('ZADD', KEYS[3], 'XX', deadline, id)
  else
    lost[#lost + 1] = id
  end
end
return lost

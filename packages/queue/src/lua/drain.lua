-- Removes waiting and delayed jobs (active and finished ones stay), up to `chunk` of them a call so that one
-- call never holds Redis for long; the caller repeats while some remain.
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake
-- ARGV[1] job key prefix  ARGV[2] chunk
-- Returns { removed, left } (left: waiting + delayed still there)
local prefix, chunk = ARGV[1], tonumber(ARGV[2])
local removed = 0
for i = 1, 2 do
  if removed < chunk then
    local ids = redis.call('ZRANGE', KEYS[i], 0, chunk - removed - 1)
    for _, id in ipairs(ids) do redis.call('DEL', prefix .. id) end
    if #ids > 0 then redis.call('ZREMRANGEBYRANK', KEYS[i], 0, #ids - 1) end
    removed = removed + #ids
  end
end
return { removed, redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) }

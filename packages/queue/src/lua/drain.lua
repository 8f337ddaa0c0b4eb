-- Removes waiting and delayed jobs (active and finished ones stay) — a grouped queue's group lines too —, up to
-- `chunk` of them a call so that one call never holds Redis for long; the caller repeats while some remain.
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake  KEYS[10] events  KEYS[11] groups  KEYS[12] group set
-- KEYS[13] group line key prefix
-- ARGV[1] job key prefix  ARGV[2] chunk
-- Returns { removed, left } (left: waiting + delayed still there)
local prefix, chunk = ARGV[1], tonumber(ARGV[2])
local lines = { KEYS[1], KEYS[2] }
for _, g in ipairs(redis.call('LRANGE', KEYS[11], 0, -1)) do lines[#lines + 1] = KEYS[13] .. g end
local removed, left = 0, 0
for _, key in ipairs(lines) do
  if removed < chunk then
    local ids = redis.call('ZRANGE', key, 0, chunk - removed - 1)
    for _, id in ipairs(ids) do redis.call('DEL', prefix .. id) end
    if #ids > 0 then redis.call('ZREMRANGEBYRANK', key, 0, #ids - 1) end
    removed = removed + #ids
  end
  left = left + redis.call('ZCARD', key)
end
return { removed, left }

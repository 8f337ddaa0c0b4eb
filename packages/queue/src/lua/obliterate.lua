-- Removes a queue with all its jobs, `chunk` jobs a call (the caller repeats until nothing is left). The
-- first call pauses the queue, so no worker takes a job meanwhile; the last deletes the fixed keys.
-- Without `force`, a queue with active jobs (a worker holds them) is refused and left as it was; with it,
-- their hashes go too and their workers' acks find nothing (acks of a lost lease: reported, no effect).
-- KEYS[1] wait  KEYS[2] delayed  KEYS[3] active  KEYS[4] completed  KEYS[5] failed  KEYS[6] dead
-- KEYS[7] meta  KEYS[8] seq  KEYS[9] wake  KEYS[10] events stream  KEYS[11] groups  KEYS[12] group set
-- KEYS[13] group line key prefix  KEYS[14] waiting-children  KEYS[15] flow outbox
-- ARGV[1] job key prefix  ARGV[2] '1' force  ARGV[3] chunk
-- Returns { -1, active } refused; { removed, left } otherwise (left 0: the queue is gone)
local prefix, force, chunk = ARGV[1], ARGV[2] == '1', tonumber(ARGV[3])
local active = redis.call('ZCARD', KEYS[3])
if active > 0 and not force then return { -1, active } end
redis.call('HSET', KEYS[7], 'paused', '1')
-- The job indexes — flow parents waiting for children included (with their dependency keys) — and a grouped
-- queue's group lines.
local lines = { KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[14] }
for _, g in ipairs(redis.call('LRANGE', KEYS[11], 0, -1)) do lines[#lines + 1] = KEYS[13] .. g end
local removed, left = 0, 0
for _, key in ipairs(lines) do
  if removed < chunk then
    local ids = redis.call('ZRANGE', key, 0, chunk - removed - 1)
    for _, id in ipairs(ids) do
      redis.call('DEL', prefix .. id, prefix .. id .. ':deps', prefix .. id .. ':processed', prefix .. id .. ':failed')
    end
    if #ids > 0 then redis.call('ZREMRANGEBYRANK', key, 0, #ids - 1) end
    removed = removed + #ids
  end
  left = left + redis.call('ZCARD', key)
end
if left == 0 then redis.call('DEL', KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[10] .. ':c', KEYS[11], KEYS[12], KEYS[15]) end
return { removed, left }

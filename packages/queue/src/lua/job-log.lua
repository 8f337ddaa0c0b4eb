-- Appends a line to a job's log (kept in its hash, so every removal of the job removes its log too), keeping
-- the newest `max` lines.
-- KEYS[1] the job's hash
-- ARGV[1] line  ARGV[2] max lines kept
-- Returns the number of lines ever logged (dropped ones included), or -1 when the job does not exist.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local raw = redis.call('HGET', KEYS[1], 'logs')
local lines = {}
if raw then lines = cjson.decode(raw) end
lines[#lines + 1] = ARGV[1]
local max = tonumber(ARGV[2])
local kept = {}
for i = math.max(1, #lines - max + 1), #lines do kept[#kept + 1] = lines[i] end
redis.call('HSET', KEYS[1], 'logs', cjson.encode(kept))
return redis.call('HINCRBY', KEYS[1], 'logCount', 1)

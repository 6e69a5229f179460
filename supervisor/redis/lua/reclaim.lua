-- ARGV: prefix, consumer, lease ms, max_deliveries, result ttl ms.
-- Takes the first entry whose lease expired (its worker stopped renewing it),
-- for this consumer to run alone. Returns {the worker it was taken from, ms
-- since that worker last renewed it, then what begin.lua returns for it
-- (nothing when it must not run)}, or nil when no lease has expired.
local consumer, lease = ARGV[2], tonumber(ARGV[3])
local max_deliveries, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local expired = redis.call('XPENDING', STREAM, GROUP, 'IDLE', lease, '-', '+', 1)
if not expired[1] then
  return nil
end
local entry, from, idle = expired[1][1], expired[1][2], expired[1][3]
local claimed = redis.call('XCLAIM', STREAM, GROUP, consumer, lease, entry)
if not claimed[1] then
  -- the entry was deleted while pending: nothing can run it
  redis.call('XACK', STREAM, GROUP, entry)
  return {from, idle}
end
local out = {from, idle}
begin_into(out, entry, job_id_of(claimed[1][2]), claimed[1][2], consumer, '1', max_deliveries, true, ttl, now_ms())
return out

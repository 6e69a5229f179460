-- ARGV: prefix, job id, result ttl ms. A waiting job ends CANCELLED at once; a
-- running one gets a persistent cancel flag (checked before it starts and at
-- each lease renewal) and a message to the workers. Returns the job's status
-- after the call, or nil when there is no such job.
local id, ttl = ARGV[2], tonumber(ARGV[3])
local jk = job_key(id)
local f = redis.call('HMGET', jk, 'status', 'entry')
local status = f[1]
if not status then
  return nil
end
if WAITING[status] then
  redis.call('ZREM', DELAYED, id)
  if status == 'queued' and f[2] then
    -- not delivered yet (or delivered and not begun: begin_one skips it)
    redis.call('XDEL', STREAM, f[2])
  end
  redis.call('HSET', jk, 'cancel', '1')
  finish(jk, id, 'cancelled', now_ms(), ttl)
  return 'cancelled'
end
if status == 'running' then
  redis.call('HSET', jk, 'cancel', '1')
  redis.call('PUBLISH', P .. 'cancel', id)
end
return status

-- ARGV: prefix, consumer, ttl ms, then field/value pairs describing the worker.
-- A worker is live while its score (the time its heartbeat expires) is ahead.
-- Also forgets the group's consumers of workers gone for good that hold nothing.
local consumer, ttl = ARGV[2], tonumber(ARGV[3])
local now = now_ms()
redis.call('ZADD', WORKERS, now + ttl, consumer)
local wk = P .. 'worker:' .. consumer
if #ARGV > 3 then
  redis.call('HSET', wk, unpack(ARGV, 4))
end
redis.call('HSET', wk, 'beat', now)
redis.call('PEXPIRE', wk, ttl)
redis.call('ZREMRANGEBYSCORE', WORKERS, '-inf', now)
local forgotten = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', STREAM, GROUP)) do
  local name, pending, idle = nil, 0, 0
  for j = 1, #c, 2 do
    if c[j] == 'name' then name = c[j + 1]
    elseif c[j] == 'pending' then pending = c[j + 1]
    elseif c[j] == 'idle' then idle = c[j + 1] end
  end
  if pending == 0 and idle > 10 * ttl and not redis.call('ZSCORE', WORKERS, name) then
    redis.call('XGROUP', 'DELCONSUMER', STREAM, GROUP, name)
    forgotten = forgotten + 1
  end
end
return forgotten

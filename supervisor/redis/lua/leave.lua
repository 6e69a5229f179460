-- ARGV: prefix, consumer. A worker that stopped cleanly: no longer live, and its
-- consumer forgotten when it holds no entry (one that does is left for reclaim).
local consumer = ARGV[2]
redis.call('ZREM', WORKERS, consumer)
redis.call('DEL', P .. 'worker:' .. consumer)
local held = redis.call('XPENDING', STREAM, GROUP, '-', '+', 1, consumer)
if not held[1] then
  redis.call('XGROUP', 'DELCONSUMER', STREAM, GROUP, consumer)
end
return 1

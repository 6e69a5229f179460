-- ARGV: prefix. Returns {waiting in the stream, in flight, delayed or retrying,
-- dead, live workers, entries set aside as malformed}. Acknowledged entries are
-- deleted, so the stream holds exactly the entries that wait plus those in flight.
local length = redis.call('XLEN', STREAM)
local pending = 0
if length > 0 or redis.call('EXISTS', STREAM) == 1 then
  pending = redis.call('XPENDING', STREAM, GROUP)[1]
end
local now = now_ms()
return {length - pending, pending, redis.call('ZCARD', DELAYED), redis.call('XLEN', DEAD),
  redis.call('ZCOUNT', WORKERS, now, '+inf'), redis.call('XLEN', MALFORMED)}

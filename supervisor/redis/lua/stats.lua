-- ARGV: prefix. Returns {waiting in the stream, in flight, delayed or retrying,
-- dead, live workers, entries set aside as malformed, lost workers}: a lost
-- worker holds entries and has no current heartbeat. Acknowledged entries are
-- deleted, so the stream holds exactly the entries that wait plus those in flight.
local length = redis.call('XLEN', STREAM)
local pending = 0
local now = now_ms()
local lost = 0
if length > 0 or redis.call('EXISTS', STREAM) == 1 then
  local summary = redis.call('XPENDING', STREAM, GROUP)
  pending = summary[1]
  for _, c in ipairs(summary[4] or {}) do
    local score = redis.call('ZSCORE', WORKERS, c[1])
    if not score or tonumber(score) <= now then
      lost = lost + 1
    end
  end
end
return {length - pending, pending, redis.call('ZCARD', DELAYED), redis.call('XLEN', DEAD),
  redis.call('ZCOUNT', WORKERS, now, '+inf'), redis.call('XLEN', MALFORMED), lost}

-- ARGV: prefix, consumer, count, solo (0/1), max_deliveries, result ttl ms.
-- Reads up to `count` new entries for this consumer (without blocking) and
-- begins them, in one round trip. Returns {entries read, then per job to run:
-- entry, job id, name, args, attempt number, trace context}; 0 entries read means the stream
-- had nothing new (the caller then blocks on XREADGROUP itself).
local out = {}
fetch_new(out, ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]))
return out

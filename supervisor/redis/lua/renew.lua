-- ARGV: prefix, consumer, then pairs of entry and job id that this consumer runs.
-- Renews each lease that is still this consumer's (XCLAIM ... JUSTID resets the
-- entry's idle time without counting a delivery). Returns per entry: 0 the lease
-- is lost (another worker took it, or it was acknowledged), 1 renewed, 2 renewed
-- and a cancel was requested.
local consumer = ARGV[2]
local out = {}
for i = 3, #ARGV, 2 do
  local entry, id = ARGV[i], ARGV[i + 1]
  if owned(entry, consumer) then
    redis.call('XCLAIM', STREAM, GROUP, consumer, 0, entry, 'JUSTID')
    if redis.call('HGET', job_key(id), 'cancel') == '1' then
      out[#out + 1] = 2
    else
      out[#out + 1] = 1
    end
  else
    out[#out + 1] = 0
  end
end
return out

-- ARGV: prefix, input_tokens, output_tokens, cost, soft_ratio, n, then n triples
-- (scope, cap or '', retention_s).
local expired = reclaim()
local input, output, cost, ratio = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4],
  tonumber(ARGV[5])
local n = tonumber(ARGV[6])
local warned, exhausted = {}, {}
for i = 0, n - 1 do
  local scope, cap, retention = ARGV[7 + 3 * i], ARGV[8 + 3 * i], tonumber(ARGV[9 + 3 * i])
  local sk = ensure_scope(scope)
  redis.call('HSET', sk, 'cap', cap)
  spend(scope, input, output, cost, ratio, warned, exhausted)
  keep_scope(scope, retention)
end
return {1, 0, warned, exhausted, expired}

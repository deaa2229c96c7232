-- ARGV: prefix, request id, input_tokens, output_tokens, cost, soft_ratio, n, then n triples
-- (scope, cap or '', retention_s). Idempotent: a replay of the same request (a client retry
-- after a lost reply) returns the first reply and records nothing more.
local rk = P .. 'r:' .. ARGV[2]
local first = redis.call('GET', rk)
if first then return cjson.decode(first) end
local expired = reclaim()
local input, output, cost, ratio = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5],
  tonumber(ARGV[6])
local n = tonumber(ARGV[7])
local acc = settled()
for i = 0, n - 1 do
  local scope, cap, retention = ARGV[8 + 3 * i], ARGV[9 + 3 * i], tonumber(ARGV[10 + 3 * i])
  local sk = ensure_scope(scope)
  redis.call('HSET', sk, 'cap', cap)
  spend(scope, input, output, cost, ratio, 0, 'unreserved', acc)
  keep_scope(scope, retention)
end
local reply = {1, 0, acc.warned, acc.exhausted, expired, acc.overspent}
redis.call('SET', rk, cjson.encode(reply), 'EX', 86400)
return reply

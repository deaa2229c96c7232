-- ARGV: prefix, request id, input_tokens, output_tokens, cost ('' when unknown), soft_ratio,
-- cached_input_tokens, cache_write_tokens, n, then n triples (scope, cap or '', retention_s).
-- Idempotent: a replay of the same request (a client retry after a lost reply) returns the
-- first reply and records nothing more.
local rk = P .. 'r:' .. ARGV[2]
local first = redis.call('GET', rk)
if first then return cjson.decode(first) end
local expired = reclaim()
local u = usage(ARGV[3], ARGV[4], ARGV[7], ARGV[8], ARGV[5])
local ratio = tonumber(ARGV[6])
local n = tonumber(ARGV[9])
local acc = settled()
for i = 0, n - 1 do
  local scope, cap, retention = ARGV[10 + 3 * i], ARGV[11 + 3 * i], tonumber(ARGV[12 + 3 * i])
  local sk = ensure_scope(scope)
  redis.call('HSET', sk, 'cap', cap)
  spend(scope, u, ratio, 0, 'unreserved', acc)
  keep_scope(scope, retention)
end
local reply = {1, 0, acc.warned, acc.exhausted, expired, acc.overspent}
redis.call('SET', rk, cjson.encode(reply), 'EX', 86400)
return reply

-- ARGV: prefix, id, input_tokens, output_tokens, cost ('' when unknown), soft_ratio, request id,
-- cached_input_tokens, cache_write_tokens.
-- Idempotent: a replay of the same request (a client retry after a lost reply) returns the
-- first reply; another commit of a settled reservation is refused.
local id, request = ARGV[2], ARGV[7]
local u = usage(ARGV[3], ARGV[4], ARGV[8], ARGV[9], ARGV[5])
local ratio = tonumber(ARGV[6])
local hk = P .. 'h:' .. id
local state = redis.call('HGET', hk, 'state')
if not state then return {-1, 'unknown'} end
if state == 'committed' and redis.call('HGET', hk, 'request') == request then
  return cjson.decode(redis.call('HGET', hk, 'reply'))
end
if state == 'committed' or state == 'rolled_back' then return {-1, state} end
-- This hold settles before others are reclaimed: past its lease but not reclaimed yet, it
-- was still held, so its commit is not late.
local lapsed = state == 'expired'
local tokens = num(redis.call('HGET', hk, 'tokens'))
local retention = num(redis.call('HGET', hk, 'retention'))
local acc = settled()
local released, cause = tokens, 'over_reservation'
if lapsed then released, cause = 0, 'lease_lost' end
for scope in string.gmatch(redis.call('HGET', hk, 'scopes') or '', '[^\n]+') do
  ensure_scope(scope)
  spend(scope, u, ratio, released, cause, acc)
  keep_scope(scope, retention)
end
redis.call('ZREM', P .. 'leases', id)
local expired = reclaim()
local flag = 0
if lapsed then flag = 1 end
local reply = {1, flag, acc.warned, acc.exhausted, expired, acc.overspent}
redis.call('HSET', hk, 'state', 'committed', 'expires', F(now + retention), 'request', request,
  'reply', cjson.encode(reply))
redis.call('EXPIRE', hk, math.ceil(retention) + 1)
return reply

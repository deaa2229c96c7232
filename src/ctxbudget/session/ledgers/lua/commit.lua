-- KEYS: leases, scopes, the hold (prefix .. 'h:' .. id; its scope hashes are named in it).
-- ARGV: input_tokens, output_tokens, cost ('' when unknown), soft_ratio, request id,
-- cached_input_tokens, cache_write_tokens.
-- Idempotent: a replay of the same request (a client retry after a lost reply) returns the
-- first reply; another commit of a settled reservation is refused.
local hk, request = KEYS[3], ARGV[5]
local h = redis.call('HMGET', hk, 'state', 'request', 'tokens', 'retention', 'scopes')
local state = h[1]
if not state then return {-1, 'unknown'} end
if state == 'committed' and h[2] == request then
  return cjson.decode(redis.call('HGET', hk, 'reply'))
end
if state == 'committed' or state == 'rolled_back' then return {-1, state} end
local u = usage(ARGV[1], ARGV[2], ARGV[6], ARGV[7], ARGV[3])
local ratio = tonumber(ARGV[4])
-- This hold settles before others are reclaimed: past its lease but not reclaimed yet, it
-- was still held, so its commit is not late.
local lapsed = state == 'expired'
local tokens, retention = num(h[3]), num(h[4])
local acc = settled()
local released, cause = tokens, 'over_reservation'
if lapsed then released, cause = 0, 'lease_lost' end
for scope in string.gmatch(h[5] or '', '[^\n]+') do
  local key = scope_key(scope)
  local v = redis.call('HMGET', key, unpack(SPEND))
  spend(key, v, v[7], u, ratio, released, cause, acc, {}, retention)
end
redis.call('ZREM', LEASES, key_name(hk, 3))
local expired = reclaim()
local flag = 0
if lapsed then flag = 1 end
local reply = settle_reply(flag, acc, expired)
redis.call('HSET', hk, 'state', 'committed', 'expires', F(now + retention), 'request', request,
  'reply', cjson.encode(reply))
redis.call('EXPIRE', hk, math.ceil(retention) + 1)
return reply

-- KEYS: leases, scopes, the request, then n scope hashes. ARGV: input_tokens, output_tokens,
-- cost ('' when unknown), soft_ratio, cached_input_tokens, cache_write_tokens, then n pairs
-- (cap or '', retention_s), one per scope hash.
-- Idempotent: a replay of the same request (a client retry after a lost reply) returns the
-- first reply and records nothing more.
local rk = KEYS[3]
local first = redis.call('GET', rk)
if first then return cjson.decode(first) end
local expired = reclaim()
local u = usage(ARGV[1], ARGV[2], ARGV[5], ARGV[6], ARGV[3])
local ratio = tonumber(ARGV[4])
local acc = settled()
for i = 1, #KEYS - 3 do
  local key, cap = KEYS[3 + i], ARGV[5 + 2 * i]
  local v = redis.call('HMGET', key, unpack(SPEND))
  spend(key, v, cap, u, ratio, 0, 'unreserved', acc, {'cap', cap}, tonumber(ARGV[6 + 2 * i]))
end
local reply = settle_reply(0, acc, expired)
redis.call('SET', rk, cjson.encode(reply), 'EX', 86400)
return reply

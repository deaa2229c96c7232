-- KEYS: leases, scopes, the hold (prefix .. 'h:' .. id), then n scope hashes. ARGV: tokens,
-- lease_s, then n pairs (cap or '', retention_s), one per scope hash.
-- Idempotent per reservation id: a replay (a client retry after a lost reply) holds nothing
-- more and returns ok, the first outcome.
local expired = reclaim()
local hk, tokens, lease = KEYS[3], tonumber(ARGV[1]), tonumber(ARGV[2])
if redis.call('EXISTS', hk) == 1 then return {1, {}, expired} end
local n = #KEYS - 3
local read = {}
for i = 1, n do
  local v = redis.call('HMGET', KEYS[3 + i], unpack(HOLD))
  local no = refused(KEYS[3 + i], v, tokens, ARGV[1 + 2 * i], tonumber(ARGV[2 + 2 * i]))
  if no then return {0, no, expired} end
  read[i] = v
end
local names, longest = {}, 0
for i = 1, n do
  local key, v, retention = KEYS[3 + i], read[i], tonumber(ARGV[2 + 2 * i])
  local set = {'cap', ARGV[1 + 2 * i]}
  if not v[5] then put(set, 'created', NOW); put(set, 'used', '0') end
  count(key, 'reserved', v[2], tokens, set)
  write(key, v[4], retention + lease, set)
  names[i] = key_name(key, 3)
  if retention > longest then longest = retention end
end
redis.call('HSET', hk, 'tokens', I(tokens), 'scopes', table.concat(names, '\n'),
  'state', 'active', 'created', NOW, 'expires', F(now + lease), 'retention', F(longest))
redis.call('EXPIRE', hk, math.ceil(lease + longest) + 1)
redis.call('ZADD', LEASES, now + lease, key_name(hk, 3))
return {1, {}, expired}

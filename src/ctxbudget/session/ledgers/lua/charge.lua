-- KEYS: leases, scopes, the hold (prefix .. 'h:' .. id), then n scope hashes. ARGV:
-- input_tokens, output_tokens, cost ('' when unknown), soft_ratio, cached_input_tokens,
-- cache_write_tokens, then n pairs (cap or '', retention_s), one per scope hash.
-- A reserve of input + output tokens and its commit in one step: refused as reserve.lua
-- refuses (nothing recorded), else spent as commit.lua spends, and the hold is kept as
-- committed with its reply. Idempotent per reservation id: a replay records nothing more and
-- returns {1, {}, expired now, the first settle reply}; {-1, state} if the id is a
-- reservation's that was not charged.
local expired = reclaim()
local hk = KEYS[3]
local h = redis.call('HMGET', hk, 'state', 'charged', 'reply')
if h[1] then
  if h[2] == '1' then return {1, {}, expired, cjson.decode(h[3])} end
  return {-1, h[1]}
end
local u = usage(ARGV[1], ARGV[2], ARGV[5], ARGV[6], ARGV[3])
local tokens, ratio = tonumber(u.total), tonumber(ARGV[4])
local n = #KEYS - 3
local read, longest = {}, 0
for i = 1, n do
  local key, cap, retention = KEYS[3 + i], ARGV[5 + 2 * i], tonumber(ARGV[6 + 2 * i])
  local v = redis.call('HMGET', key, unpack(SPEND))
  local no = refused(key, {v[1], v[2], v[9], v[10], v[11]}, tokens, cap, retention)
  if no then return {0, no, expired} end
  read[i] = v
  if retention > longest then longest = retention end
end
local acc, names = settled(), {}
for i = 1, n do
  local key, cap = KEYS[3 + i], ARGV[5 + 2 * i]
  spend(key, read[i], cap, u, ratio, 0, 'over_reservation', acc, {'cap', cap}, longest)
  names[i] = key_name(key, 3)
end
local reply = settle_reply(0, acc, expired)
redis.call('HSET', hk, 'tokens', u.total, 'scopes', table.concat(names, '\n'),
  'state', 'committed', 'charged', '1', 'created', NOW, 'expires', F(now + longest),
  'retention', F(longest), 'reply', cjson.encode(reply))
redis.call('EXPIRE', hk, math.ceil(longest) + 1)
return {1, {}, {}, reply}

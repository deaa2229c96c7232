-- Shared by every ctxbudget ledger script. KEYS[1] is the leases sorted set (its name is the
-- key prefix followed by 'leases'), KEYS[2] the scopes sorted set, KEYS[3] the step's own key
-- (a hold, or a record's request); further KEYS are scope hashes. Expired holds and the scopes
-- a hold names are found through the prefix; on Redis Cluster the prefix is a hash tag, so
-- they are on the slot of KEYS[1], the one slot a script may touch there. Numbers are
-- written with string.format so that large integers never turn into exponent notation.
-- Cost: each redis.call costs the server about a tenth of a PING and every Lua operation
-- counts, so a step reads a scope with one HMGET of the fields it needs and writes it with
-- one HSET, and the helpers below stay small.
local LEASES, SCOPES = KEYS[1], KEYS[2]
local P = string.sub(LEASES, 1, -7)
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local NOW = string.format('%.6f', now)
-- Lua numbers are doubles: integers below 2^53 are exact; a larger counter goes to HINCRBY.
local EXACT = 9007199254740992

local function I(n) return string.format('%d', n) end
local function F(x) return string.format('%.6f', x) end
local function num(v) if v then return tonumber(v) else return 0 end end
local function put(set, field, value)
  set[#set + 1] = field
  set[#set + 1] = value
end

local function scope_key(scope) return P .. 's:' .. scope end
local function key_name(key, skip) return string.sub(key, #P + skip) end

-- Counter `field` of hash `key` grows by `delta` (a number or an integer string) from `old`;
-- queued in `set` for the step's HSET when exact, else added by HINCRBY. Returns the sum.
local function count(key, field, old, delta, set)
  local sum = num(old) + tonumber(delta)
  if sum < EXACT then
    put(set, field, I(sum))
    return sum
  end
  return tonumber(redis.call('HINCRBY', key, field, delta))
end

-- Write scope hash `key` (HSET of `set`, plus 'updated'), kept at least `keep` seconds from
-- now: its TTL and score in SCOPES move only when they would fall short, to `keep` plus up
-- to 1 s, so a busy scope pays for them at most once a second.
local function write(key, expires, keep, set)
  put(set, 'updated', NOW)
  local until_ = nil
  if num(expires) < now + keep then
    until_ = now + keep + math.min(1, keep / 16)
    put(set, 'expires', F(until_))
  end
  redis.call('HSET', key, unpack(set))
  if until_ then
    redis.call('EXPIRE', key, math.ceil(until_ - now) + 1)
    redis.call('ZADD', SCOPES, until_, key_name(key, 3))
  end
end

local function release(scope, tokens)
  local sk = scope_key(scope)
  local reserved = redis.call('HGET', sk, 'reserved')
  if reserved then
    local left = tonumber(reserved) - tokens
    if left < 0 then left = 0 end
    redis.call('HSET', sk, 'reserved', I(left), 'updated', NOW)
  end
end

-- Return every expired lease's tokens to its scopes; returns {id, tokens, scopes, ...}.
local function reclaim()
  local out = {}
  local ids = redis.call('ZRANGEBYSCORE', LEASES, '-inf', now)
  for _, id in ipairs(ids) do
    local hk = P .. 'h:' .. id
    local h = redis.call('HMGET', hk, 'tokens', 'scopes', 'retention')
    local tokens, scopes, retention = num(h[1]), h[2] or '', num(h[3])
    for scope in string.gmatch(scopes, '[^\n]+') do release(scope, tokens) end
    redis.call('HSET', hk, 'state', 'expired', 'expires', F(now + retention))
    redis.call('EXPIRE', hk, math.ceil(retention) + 1)
    redis.call('ZREM', LEASES, id)
    table.insert(out, id)
    table.insert(out, I(tokens))
    table.insert(out, scopes)
  end
  return out
end

-- The fields a reserve reads of each scope (refused() and the hold's write use them).
local HOLD = {'used', 'reserved', 'exhausted', 'expires', 'created'}

-- Refuse `tokens` if the scope (HOLD fields `v`, capped at `cap`, '' for none) has no room:
-- nil, or the refusal {scope, used, reserved, cap, newly, flagged}. Exhausted: the committed
-- spend alone leaves less room than the call asks for; the scope is marked in the same step.
local function refused(key, v, tokens, cap, retention)
  if cap == '' then return nil end
  local used, reserved, limit = num(v[1]), num(v[2]), tonumber(cap)
  if used + reserved + tokens <= limit then return nil end
  local newly, flagged = 0, 0
  if limit - used < tokens and v[3] ~= '1' then
    local set = {'cap', cap, 'exhausted', '1'}
    if not v[5] then put(set, 'created', NOW); put(set, 'used', '0'); put(set, 'reserved', '0') end
    write(key, v[4], retention, set)
    newly, flagged = 1, 1
  elseif v[3] == '1' then
    flagged = 1
  end
  return {key_name(key, 3), I(used), I(reserved), cap, newly, flagged}
end

-- One call's usage: input counts every input token, cached and written are parts of it (the
-- client's integer strings); cost is the client's exact decimal string, passed through
-- unchanged to HINCRBYFLOAT (no rounding), or '' when the cost is unknown.
local function usage(input, output, cached, written, cost)
  return {input = input, output = output, total = I(tonumber(input) + tonumber(output)),
    cached = cached, written = written, cost = cost}
end

-- The fields a settle step reads of each scope (spend() uses them).
local SPEND = {'used', 'reserved', 'calls', 'input', 'output', 'unpriced', 'cap', 'warned',
  'exhausted', 'expires', 'created'}

-- Release `released` held tokens and add usage `u` to scope hash `key` (SPEND fields `v`,
-- its cap `cap` or '' for none), written with `set` and kept `keep` seconds. Note the scope
-- in acc.warned / acc.exhausted when it crosses a line now, and in acc.overspent ({scope,
-- tokens, spent, cause}) when this step pushes used + reserved further past the cap.
local function spend(key, v, cap, u, ratio, released, cause, acc, set, keep)
  local name = key_name(key, 3)
  local used, reserved = num(v[1]), num(v[2])
  local before = used + reserved
  if released > 0 or not v[11] then
    reserved = math.max(0, reserved - released)
    put(set, 'reserved', I(reserved))
  end
  if not v[11] then put(set, 'created', NOW) end
  used = count(key, 'used', v[1], u.total, set)
  count(key, 'calls', v[3], 1, set)
  count(key, 'input', v[4], u.input, set)
  count(key, 'output', v[5], u.output, set)
  if u.cached ~= '0' then redis.call('HINCRBY', key, 'cached', u.cached) end
  if u.written ~= '0' then redis.call('HINCRBY', key, 'written', u.written) end
  if u.cost == '' then
    count(key, 'unpriced', v[6], 1, set)
  else
    redis.call('HINCRBYFLOAT', key, 'cost', u.cost)
  end
  if cap and cap ~= '' then
    local limit = tonumber(cap)
    local over = math.max(0, used + reserved - limit) - math.max(0, before - limit)
    if over > 0 then
      redis.call('HINCRBY', key, 'overspent', I(over))
      redis.call('HINCRBY', key, 'overspends', 1)
      table.insert(acc.overspent, {name, I(over), u.total, cause})
      acc.touched[name] = true
    end
    if v[8] ~= '1' and used >= ratio * limit then
      put(set, 'warned', '1')
      table.insert(acc.warned, name)
      acc.touched[name] = true
    end
    if v[9] ~= '1' and used >= limit then
      put(set, 'exhausted', '1')
      table.insert(acc.exhausted, name)
      acc.touched[name] = true
    end
  end
  write(key, v[10], keep, set)
end

local function settled() return {warned = {}, exhausted = {}, overspent = {}, touched = {}} end

-- The reply of a settle step: {1, lapsed, warned, exhausted, expired, overspent, records},
-- records = {scope, HGETALL of it, ...} for every scope named (read after the step, so the
-- client needs no status round trip to report them).
local function settle_reply(lapsed, acc, expired)
  local records = {}
  for name in pairs(acc.touched) do
    table.insert(records, name)
    table.insert(records, redis.call('HGETALL', scope_key(name)))
  end
  return {1, lapsed, acc.warned, acc.exhausted, expired, acc.overspent, records}
end

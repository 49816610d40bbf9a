/**
 * Lua scripts: each state transition of a workflow record is one atomic round trip.
 * User data (inputs, results, payloads) is passed as raw strings and never decoded in Lua,
 * so numbers and unicode survive byte for byte.
 */

const TERMINAL = `
local function terminal(s)
  return s == 'completed' or s == 'failed' or s == 'cancelled'
end
`;

/**
 * KEYS: rec, active, counts
 * ARGV: id, name, runId, input, now, parent, idempotent ('1'|'0')
 * → {created, runId, name, status}
 */
export const START = `${TERMINAL}
local rec = KEYS[1]
local cur = redis.call('HMGET', rec, 'status', 'runId', 'name')
if cur[1] then
  if not terminal(cur[1]) or ARGV[7] == '1' then
    return {0, cur[2], cur[3], cur[1]}
  end
  redis.call('DEL', rec)
end
redis.call('HSET', rec, 'name', ARGV[2], 'runId', ARGV[3], 'status', 'running', 'input', ARGV[4],
  'startedAt', ARGV[5], 'runStartedAt', ARGV[5], 'updatedAt', ARGV[5], 'runs', 1, 'parent', ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
redis.call('HINCRBY', KEYS[3], 'running', 1)
return {1, ARGV[3], ARGV[2], 'running'}
`;

/**
 * Starts an activation: marks the run running and returns the record and the history.
 * KEYS: rec, hist, counts
 * ARGV: runId, now
 * → {0} missing | {1, currentRunId, status} other run | {2, status} finished | {3, rec, hist}
 */
export const LOAD = `${TERMINAL}
local cur = redis.call('HMGET', KEYS[1], 'runId', 'status')
if not cur[1] then return {0} end
if cur[1] ~= ARGV[1] then return {1, cur[1], cur[2]} end
if terminal(cur[2]) then return {2, cur[2]} end
if cur[2] ~= 'running' then
  redis.call('HSET', KEYS[1], 'status', 'running', 'updatedAt', ARGV[2])
  redis.call('HINCRBY', KEYS[3], cur[2], -1)
  redis.call('HINCRBY', KEYS[3], 'running', 1)
end
return {3, redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
`;

/**
 * Stores buffered history entries and record fields, fenced by the job lock and the run id,
 * then performs one operation: none | take (consume a signal) | suspend | finish | continue.
 * KEYS: rec, hist, lock, sig, active, counts
 * ARGV: id, runId, token, now, op, nEntries, nFields, opArgs (engine JSON), opData (raw),
 *       then nEntries × (seq, json), then nFields × (field, value)
 * → {-2} run superseded or finished | {-1} lock lost | {1, ...}
 */
export const COMMIT = `${TERMINAL}
local rec, hist, lock, sig = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, runId, token, now, op = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local cur = redis.call('HMGET', rec, 'runId', 'status')
if cur[1] ~= runId then return {-2} end
local st = cur[2]
if terminal(st) then return {-2} end
if token ~= '' and redis.call('GET', lock) ~= token then return {-1} end
local i = 10
for _ = 1, tonumber(ARGV[6]) do
  redis.call('HSET', hist, ARGV[i], ARGV[i + 1])
  i = i + 2
end
for _ = 1, tonumber(ARGV[7]) do
  redis.call('HSET', rec, ARGV[i], ARGV[i + 1])
  i = i + 2
end
redis.call('HSET', rec, 'updatedAt', now)
local function setStatus(s)
  if st ~= s then
    redis.call('HSET', rec, 'status', s)
    redis.call('HINCRBY', KEYS[6], st, -1)
    redis.call('HINCRBY', KEYS[6], s, 1)
    st = s
  end
end
if op == 'none' then return {1} end
local a = cjson.decode(ARGV[8])
if op == 'take' then
  local items = redis.call('LRANGE', sig, 0, -1)
  for _, raw in ipairs(items) do
    local nl = string.find(raw, '\\n', 1, true)
    if nl and a.names[string.sub(raw, 1, nl - 1)] then
      redis.call('LREM', sig, 1, raw)
      redis.call('HSET', hist, a.seq, '{"t":"sig","v":' .. string.sub(raw, nl + 1) .. '}')
      return {1, 'signal', raw}
    end
  end
  if a.timeout then
    redis.call('HSET', hist, a.seq, a.timeout)
    return {1, 'timeout'}
  end
  if a.pending then redis.call('HSET', hist, a.seq, a.pending) end
  return {1, 'pending'}
elseif op == 'suspend' then
  setStatus(a.status)
  redis.call('HSET', rec, 'wakeAt', a.wakeAt, 'waitingFor', a.waitingFor)
  return {1}
elseif op == 'finish' then
  setStatus(a.status)
  redis.call('HSET', rec, a.field, ARGV[9], 'closedAt', now)
  redis.call('HDEL', rec, 'wakeAt', 'waitingFor')
  redis.call('ZREM', KEYS[5], id)
  redis.call('DEL', sig)
  redis.call('PEXPIRE', rec, a.retention)
  redis.call('PEXPIRE', hist, a.retention)
  redis.call('PUBLISH', a.channel, st)
  return {1, redis.call('HGET', rec, 'parent') or ''}
elseif op == 'continue' then
  redis.call('DEL', hist)
  setStatus('running')
  redis.call('HSET', rec, 'runId', a.runId, 'input', ARGV[9], 'runStartedAt', now)
  redis.call('HINCRBY', rec, 'runs', 1)
  if redis.call('HEXISTS', rec, 'cd') == 1 then redis.call('HDEL', rec, 'cancel', 'cd') end
  redis.call('HDEL', rec, 'wakeAt', 'waitingFor')
  return {1}
end
return redis.error_reply('unknown op ' .. op)
`;

/**
 * KEYS: rec, sig
 * ARGV: raw (name\\njson), maxPending
 * → {-1} missing | {-3} too many pending | {0, status} finished | {1, runId, status}
 */
export const SIGNAL = `${TERMINAL}
local cur = redis.call('HMGET', KEYS[1], 'runId', 'status')
if not cur[1] then return {-1} end
if terminal(cur[2]) then return {0, cur[2]} end
if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[2]) then return {-3} end
redis.call('RPUSH', KEYS[2], ARGV[1])
return {1, cur[1], cur[2]}
`;

/**
 * The request is persisted (a worker that is not running yet sees it) and published (the
 * worker running the workflow aborts its steps at once).
 * KEYS: rec
 * ARGV: reason JSON, control channel, message
 * → {-1} missing | {0, status} finished | {1, runId, status}
 */
export const CANCEL = `${TERMINAL}
local cur = redis.call('HMGET', KEYS[1], 'runId', 'status')
if not cur[1] then return {-1} end
if terminal(cur[2]) then return {0, cur[2]} end
if redis.call('HSETNX', KEYS[1], 'cancel', ARGV[1]) == 1 then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return {1, cur[1], cur[2]}
`;

/**
 * Fails a workflow record from outside (reconcilers): no code of the workflow runs again.
 * KEYS: rec, active, counts, sig
 * ARGV: id, error JSON, now, retention, control channel, control message, done channel, hist prefix,
 *       expected runId ('' = any)
 * → {-1} missing | {0, status} finished or another run | {1, runId, parent}
 */
export const TERMINATE = `${TERMINAL}
local rec = KEYS[1]
local cur = redis.call('HMGET', rec, 'runId', 'status', 'parent')
if not cur[1] then return {-1} end
if terminal(cur[2]) or (ARGV[9] ~= '' and ARGV[9] ~= cur[1]) then return {0, cur[2]} end
redis.call('HSET', rec, 'status', 'failed', 'error', ARGV[2], 'closedAt', ARGV[3], 'updatedAt', ARGV[3])
redis.call('HDEL', rec, 'wakeAt', 'waitingFor')
redis.call('HINCRBY', KEYS[3], cur[2], -1)
redis.call('HINCRBY', KEYS[3], 'failed', 1)
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[4])
redis.call('PEXPIRE', rec, ARGV[4])
redis.call('PEXPIRE', ARGV[8] .. cur[1], ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[6])
redis.call('PUBLISH', ARGV[7], 'failed')
return {1, cur[1], cur[3] or ''}
`;

/**
 * Run after a suspended job was moved to delayed: did something that should wake it arrive
 * in the meantime? (A signal's promote fails while the job is still active.)
 * KEYS: rec, sig, child recs…
 * ARGV: runId, names JSON object (set)
 * → 1 wake now | 0 stay suspended
 */
export const WAKE_CHECK = `${TERMINAL}
local cur = redis.call('HMGET', KEYS[1], 'runId', 'status', 'cancel', 'cd')
if cur[1] ~= ARGV[1] or terminal(cur[2]) then return 1 end
if cur[3] and not cur[4] then return 1 end
local names = cjson.decode(ARGV[2])
if next(names) ~= nil then
  for _, raw in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
    local nl = string.find(raw, '\\n', 1, true)
    if nl and names[string.sub(raw, 1, nl - 1)] then return 1 end
  end
end
for k = 3, #KEYS do
  local s = redis.call('HGET', KEYS[k], 'status')
  if not s or terminal(s) then return 1 end
end
return 0
`;

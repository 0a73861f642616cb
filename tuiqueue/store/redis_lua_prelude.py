"""Shared Lua of the Redis store: the FIELDS snapshot and the PRELUDE every write starts with."""

from __future__ import annotations

FIELDS = """
-- a job as its fields in Job's order (redis_codec.job_from_values): half the strings of an
-- HGETALL reply, and turning replies into Lua values and back is most of a script's time
local FIELDS = {'id', 'type', 'params', 'priority', 'status', 'progress', 'message', 'result',
  'error', 'traceback', 'created_at', 'started_at', 'finished_at', 'run_at', 'attempts',
  'max_attempts', 'timeout', 'worker', 'token', 'rerun_of', 'depends_on', 'cancel_requested',
  'version', 'updated_at', 'log_count', 'queue'}
local function snap(k) return redis.call('HMGET', k, unpack(FIELDS)) end
"""

PRELUDE = (
    FIELDS
    + """
local P = ARGV[1]
local NOW = ARGV[2]
local V = false
local TERMINAL = {completed = true, failed = true, cancelled = true}
local function jkey(id) return P .. 'job:' .. id end
local function ver()
  if not V then V = redis.call('INCR', P .. 'version') end
  return V
end
local function touch(id)
  local v = ver()
  if NOW == '' then redis.call('HSET', jkey(id), 'version', v)
  else redis.call('HSET', jkey(id), 'version', v, 'updated_at', NOW) end
  redis.call('ZADD', P .. 'changes', v, id)
end
-- redis.call(cmd, key, args...) in chunks: Lua's unpack has a stack limit (an even chunk
-- size keeps score/member pairs together)
local function bulk(cmd, key, args)
  for i = 1, #args, 1000 do
    redis.call(cmd, key, unpack(args, i, math.min(i + 999, #args)))
  end
end
-- field = value into set, or field into del when there is no value
local function opt(set, del, field, value)
  if value == nil or value == cjson.null then del[#del + 1] = field
  else set[#set + 1] = field; set[#set + 1] = value end
end
local function setopt(k, field, value)
  if value == nil or value == cjson.null then redis.call('HDEL', k, field)
  else redis.call('HSET', k, field, value) end
end
-- a job's ready set holds the pending jobs of one queue and type, so a claim reads only the
-- pairs its worker can run (P..'ready' lists the pairs, as queue:type); P..'qr:'..queue
-- holds a queue's running jobs, for its cap
local function pair(k)
  local f = redis.call('HMGET', k, 'queue', 'type')
  local q = f[1] or 'default'
  return q, q .. ':' .. (f[2] or '')
end
-- keep every index right after a job's status fields were written (old may be false)
local function index(id, old, new)
  local k = jkey(id)
  local q, qt = false, false
  if old == 'pending' or old == 'running' or new == 'pending' or new == 'running' then
    q, qt = pair(k)
  end
  if old then
    redis.call('ZREM', P .. 's:' .. old, id)
    if old == 'pending' then redis.call('ZREM', P .. 'r:' .. qt, id) end
    if old == 'running' then redis.call('ZREM', P .. 'qr:' .. q, id) end
    if old == 'scheduled' then redis.call('ZREM', P .. 'sched', id) end
  end
  redis.call('ZADD', P .. 's:' .. new, id, id)
  if new == 'pending' then
    local prio = tonumber(redis.call('HGET', k, 'priority') or '1')
    redis.call('ZADD', P .. 'r:' .. qt, (3 - prio) * 1000000000000 + tonumber(id), id)
    redis.call('SADD', P .. 'ready', qt)
  elseif new == 'running' then
    redis.call('ZADD', P .. 'qr:' .. q, id, id)
  elseif new == 'scheduled' then
    redis.call('ZADD', P .. 'sched', redis.call('HGET', k, 'run_at') or NOW, id)
  elseif new == 'waiting' then
    redis.call('SET', P .. 'wdirty', '1')
  elseif TERMINAL[new] then
    redis.call('ZADD', P .. 'f:' .. new, redis.call('HGET', k, 'finished_at') or NOW, id)
    if redis.call('ZCARD', P .. 's:waiting') > 0 then redis.call('SET', P .. 'wdirty', '1') end
  end
end
-- the id ranges of big submits not committed yet (redis_lua_batches.py): nobody sees them
local HIDDEN = false
local function hidden_range(id)
  if not HIDDEN then
    HIDDEN = {}
    for _, b in ipairs(redis.call('SMEMBERS', P .. 'batches')) do
      local r = redis.call('HMGET', P .. 'b:' .. b, 'lo', 'hi')
      if r[1] then HIDDEN[#HIDDEN + 1] = {tonumber(r[1]), tonumber(r[2])} end
    end
  end
  id = tonumber(id)
  for _, r in ipairs(HIDDEN) do
    if id >= r[1] and id <= r[2] then return r end
  end
  return false
end
local function done(result)
  if V then redis.call('PUBLISH', P .. 'events', V) end
  return result
end
"""
)

"""Lua scripts of the Redis store: every write is one atomic script that bumps the version.

Keys (P is the prefix): P.."id" and P.."version" counters; P.."job:"..id hashes; P.."all",
P.."t:"..type and P.."s:"..status zsets of ids scored by id; P.."pending" scored by
(priority, id); P.."sched" by run_at; P.."f:"..status (finished) by finished_at;
P.."changes" (id by version) and P.."deleted" (id by version) for the change feed;
P.."lh:"..id / P.."lt:"..id log head and tail lists; P.."w:"..id worker hashes and the
P.."workers" zset by start time. Numbers that must keep their precision (times) travel as
strings: Lua would print them with 14 digits.
"""

from __future__ import annotations

FIELDS = """
-- a job as its fields in Job's order (redis_codec.job_from_values): half the strings of an
-- HGETALL reply, and turning replies into Lua values and back is most of a script's time
local FIELDS = {'id', 'type', 'params', 'priority', 'status', 'progress', 'message', 'result',
  'error', 'traceback', 'created_at', 'started_at', 'finished_at', 'run_at', 'attempts',
  'max_attempts', 'timeout', 'worker', 'token', 'rerun_of', 'depends_on', 'cancel_requested',
  'version', 'updated_at', 'log_count'}
local function snap(k) return redis.call('HMGET', k, unpack(FIELDS)) end
"""

PRELUDE = FIELDS + """
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
local function setopt(k, field, value)
  if value == nil or value == cjson.null then redis.call('HDEL', k, field)
  else redis.call('HSET', k, field, value) end
end
-- keep every index right after a job's status fields were written (old may be false)
local function index(id, old, new)
  local k = jkey(id)
  if old then
    redis.call('ZREM', P .. 's:' .. old, id)
    if old == 'pending' then redis.call('ZREM', P .. 'pending', id) end
    if old == 'scheduled' then redis.call('ZREM', P .. 'sched', id) end
  end
  redis.call('ZADD', P .. 's:' .. new, id, id)
  if new == 'pending' then
    local prio = tonumber(redis.call('HGET', k, 'priority') or '1')
    redis.call('ZADD', P .. 'pending', (3 - prio) * 1000000000000 + tonumber(id), id)
  elseif new == 'scheduled' then
    redis.call('ZADD', P .. 'sched', redis.call('HGET', k, 'run_at') or NOW, id)
  elseif new == 'waiting' then
    redis.call('SET', P .. 'wdirty', '1')
  elseif TERMINAL[new] then
    redis.call('ZADD', P .. 'f:' .. new, redis.call('HGET', k, 'finished_at') or NOW, id)
    if redis.call('ZCARD', P .. 's:waiting') > 0 then redis.call('SET', P .. 'wdirty', '1') end
  end
end
local function done(result)
  if V then redis.call('PUBLISH', P .. 'events', V) end
  return result
end
"""

ADD = PRELUDE + """
-- ARGV[3]: request id (a retried call returns the first answer); ARGV[4]: JSON list of
-- {f = {field = string}, deps = [ids], run_at = string|nil, type = string}
local req = P .. 'req:' .. ARGV[3]
local seen = redis.call('GET', req)
if seen then return cjson.decode(seen) end
local jobs = cjson.decode(ARGV[4])
local missing = false
for _, job in ipairs(jobs) do
  for _, d in ipairs(job.deps) do
    if redis.call('EXISTS', jkey(d)) == 0 and (not missing or d < missing) then missing = d end
  end
end
if missing then return {'missing', missing} end
local v = ver()
local out = {'ok', v}
for _, job in ipairs(jobs) do
  local id = redis.call('INCR', P .. 'id')
  local status = 'pending'
  for _, d in ipairs(job.deps) do
    if redis.call('HGET', jkey(d), 'status') ~= 'completed' then status = 'waiting' end
  end
  if status == 'pending' and job.run_at and tonumber(job.run_at) > tonumber(NOW) then
    status = 'scheduled'
  end
  local args = {'id', id, 'status', status, 'created_at', NOW}
  for field, value in pairs(job.f) do
    args[#args + 1] = field
    args[#args + 1] = value
  end
  redis.call('HSET', jkey(id), unpack(args))
  redis.call('ZADD', P .. 'all', id, id)
  redis.call('ZADD', P .. 't:' .. job.type, id, id)
  index(id, false, status)
  touch(id)
  out[#out + 1] = id
  out[#out + 1] = status
end
redis.call('SET', req, cjson.encode(out), 'EX', 90)
return done(out)
"""

PROMOTE = """
local function promote()
  local due = redis.call('ZRANGEBYSCORE', P .. 'sched', '-inf', NOW, 'LIMIT', 0, 5000)
  for _, id in ipairs(due) do
    if redis.call('HGET', jkey(id), 'status') == 'scheduled' then
      redis.call('HSET', jkey(id), 'status', 'pending')
      index(id, 'scheduled', 'pending')
      touch(id)
    else
      redis.call('ZREM', P .. 'sched', id)
    end
  end
  if not redis.call('GET', P .. 'wdirty') then return end
  redis.call('DEL', P .. 'wdirty')
  for _, id in ipairs(redis.call('ZRANGE', P .. 's:waiting', 0, -1)) do
    local k = jkey(id)
    local reason, ready = false, true
    for _, d in ipairs(cjson.decode(redis.call('HGET', k, 'depends_on') or '[]')) do
      local st = redis.call('HGET', jkey(d), 'status')
      if not st then reason = 'dependency job ' .. d .. ' no longer exists'; break end
      if st == 'failed' or st == 'cancelled' then
        reason = 'dependency job ' .. d .. ' ' .. st
        break
      end
      if st ~= 'completed' then ready = false end
    end
    local new = false
    if reason then
      redis.call('HSET', k, 'status', 'failed', 'error', reason, 'finished_at', NOW)
      new = 'failed'
    elseif ready then
      local run_at = redis.call('HGET', k, 'run_at')
      new = (run_at and tonumber(run_at) > tonumber(NOW)) and 'scheduled' or 'pending'
      redis.call('HSET', k, 'status', new)
    end
    if new then
      index(id, 'waiting', new)
      touch(id)
    end
  end
end
"""

CLAIM_FN = """
-- claim up to limit pending jobs for worker; batch is the claim's token (a retried call
-- returns the jobs it already claimed)
local function claim(worker, limit, batch)
  local out = {}
  local memo = P .. 'claim:' .. batch
  local seen = redis.call('GET', memo)
  if seen then
    for _, id in ipairs(cjson.decode(seen)) do
      local token = redis.call('HGET', jkey(id), 'token')
      if token and string.sub(token, 1, #batch) == batch then
        out[#out + 1] = snap(jkey(id))
      end
    end
    return out
  end
  if redis.call('GET', P .. 'paused') == '1' then return out end
  promote()
  local ids = {}
  for _, id in ipairs(redis.call('ZRANGE', P .. 'pending', 0, limit - 1)) do
    local k = jkey(id)
    if redis.call('HGET', k, 'status') == 'pending' then
      local attempts = redis.call('HINCRBY', k, 'attempts', 1)
      redis.call('HSET', k, 'status', 'running', 'started_at', NOW, 'worker', worker,
        'token', batch .. '.' .. id .. '.' .. attempts, 'cancel_requested', '0')
      index(id, 'pending', 'running')
      touch(id)
      ids[#ids + 1] = id
      out[#out + 1] = snap(k)
    else
      redis.call('ZREM', P .. 'pending', id)
    end
  end
  if #ids > 0 then redis.call('SET', memo, cjson.encode(ids), 'EX', 90) end
  return out
end
"""

FINISH_FN = """
-- outcomes: list of {id, token, status, progress?, message?, result?, error?, traceback?,
-- run_at?}; a stale token (or a job no longer active) is ignored
local function finish(outcomes)
  local out = {}
  for _, o in ipairs(outcomes) do
    local k = jkey(o.id)
    local cur = redis.call('HMGET', k, 'token', 'status')
    if cur[1] and cur[1] == o.token and (cur[2] == 'running' or cur[2] == 'paused') then
      redis.call('HSET', k, 'status', o.status, 'cancel_requested', '0')
      redis.call('HDEL', k, 'token')
      if o.progress then redis.call('HSET', k, 'progress', o.progress) end
      if o.message then redis.call('HSET', k, 'message', o.message) end
      if TERMINAL[o.status] then
        redis.call('HSET', k, 'finished_at', NOW)
        setopt(k, 'result', o.result)
      else
        redis.call('HDEL', k, 'worker')
        setopt(k, 'run_at', o.run_at)
      end
      setopt(k, 'error', o.error)
      setopt(k, 'traceback', o.traceback)
      index(o.id, cur[2], o.status)
      touch(o.id)
      out[#out + 1] = snap(k)
    end
  end
  return out
end
"""

CLAIM = PRELUDE + PROMOTE + CLAIM_FN + """
-- ARGV[3]: worker, ARGV[4]: limit, ARGV[5]: batch token
return done(claim(ARGV[3], tonumber(ARGV[4]), ARGV[5]))
"""

FINISH = PRELUDE + FINISH_FN + """
-- ARGV[3]: JSON list of outcomes
return done(finish(cjson.decode(ARGV[3])))
"""

FINISH_CLAIM = PRELUDE + PROMOTE + FINISH_FN + CLAIM_FN + """
-- ARGV[3]: JSON list of outcomes; ARGV[4]: worker, ARGV[5]: limit, ARGV[6]: batch token.
-- A dispatcher tick in one round trip: record the finished runs, then fill the freed slots.
local finished = finish(cjson.decode(ARGV[3]))
local claimed = {}
if tonumber(ARGV[5]) > 0 then claimed = claim(ARGV[4], tonumber(ARGV[5]), ARGV[6]) end
return done({finished, claimed})
"""

PROGRESS = PRELUDE + """
-- ARGV[3]: JSON list of [id, token, progress, message]; stale tokens are ignored
for _, u in ipairs(cjson.decode(ARGV[3])) do
  if redis.call('HGET', jkey(u[1]), 'token') == u[2] then
    redis.call('HSET', jkey(u[1]), 'progress', u[3], 'message', u[4])
    touch(u[1])
  end
end
return done(V or 0)
"""

SAVE = PRELUDE + """
-- ARGV[3]: JSON list of {id, was = [status, token, cancel_requested], set = {}, del = []}:
-- compare-and-set; nothing is written unless every job is still as it was read
local jobs = cjson.decode(ARGV[3])
for _, j in ipairs(jobs) do
  local cur = redis.call('HMGET', jkey(j.id), 'status', 'token', 'cancel_requested')
  if cur[1] ~= j.was[1] or (cur[2] or '') ~= j.was[2] or (cur[3] or '0') ~= j.was[3] then
    return 0
  end
end
for _, j in ipairs(jobs) do
  local k = jkey(j.id)
  for field, value in pairs(j.set) do redis.call('HSET', k, field, value) end
  for _, field in ipairs(j.del) do redis.call('HDEL', k, field) end
  local status = redis.call('HGET', k, 'status')
  if status ~= j.was[1] or j.set.run_at or j.set.priority then index(j.id, j.was[1], status) end
  touch(j.id)
end
return done(ver())
"""

RELEASE = PRELUDE + """
-- ARGV[3]: worker; requeue its started jobs (graceful stop)
local out = {}
for _, status in ipairs({'running', 'paused'}) do
  for _, id in ipairs(redis.call('ZRANGE', P .. 's:' .. status, 0, -1)) do
    local k = jkey(id)
    local cur = redis.call('HMGET', k, 'worker', 'token')
    if cur[1] == ARGV[3] and cur[2] then
      redis.call('HSET', k, 'status', 'pending', 'message', 'requeued: its worker stopped')
      redis.call('HDEL', k, 'token', 'worker')
      index(id, status, 'pending')
      touch(id)
      out[#out + 1] = snap(k)
    end
  end
end
return done(out)
"""

ORPHANS = PRELUDE + """
-- ARGV[3]: dead_after seconds; started jobs whose worker is stopped, unknown or silent.
-- Right after a Redis restart every worker was silent: nobody is judged until all of them
-- have had dead_after seconds (and a reconnect) to send a heartbeat.
local uptime = string.match(redis.call('INFO', 'server'), 'uptime_in_seconds:(%d+)')
if tonumber(uptime or '0') < tonumber(ARGV[3]) + 1 then return {} end
local cutoff = tonumber(NOW) - tonumber(ARGV[3])
local alive = {}
local out = {}
for _, status in ipairs({'running', 'paused'}) do
  for _, id in ipairs(redis.call('ZRANGE', P .. 's:' .. status, 0, -1)) do
    local cur = redis.call('HMGET', jkey(id), 'token', 'worker')
    if cur[1] then
      local w = cur[2] or ''
      if alive[w] == nil then
        local info = redis.call('HMGET', P .. 'w:' .. w, 'stopped', 'heartbeat')
        alive[w] = info[2] ~= false and info[1] ~= '1' and tonumber(info[2]) >= cutoff
      end
      if not alive[w] then out[#out + 1] = snap(jkey(id)) end
    end
  end
end
return out
"""

DELETE = PRELUDE + """
-- ARGV[3]: JSON list of ids; ARGV[4]: 1 to skip ids that are gone or started (clear)
local ids = cjson.decode(ARGV[3])
local lenient = ARGV[4] == '1'
local doomed = {}
for _, id in ipairs(ids) do
  local cur = redis.call('HMGET', jkey(id), 'status', 'token')
  local started = cur[2] and (cur[1] == 'running' or cur[1] == 'paused')
  if not cur[1] or started then
    if not lenient then
      if not cur[1] then return {'unknown', id} end
      return {'active', id, cur[1]}
    end
  else
    doomed[#doomed + 1] = id
  end
end
local out = {'ok'}
for _, id in ipairs(doomed) do
  local k = jkey(id)
  local cur = redis.call('HMGET', k, 'status', 'type')
  for _, key in ipairs({'s:' .. cur[1], 'f:' .. cur[1], 't:' .. cur[2], 'all', 'pending',
                         'sched', 'changes'}) do
    redis.call('ZREM', P .. key, id)
  end
  redis.call('DEL', k, P .. 'lh:' .. id, P .. 'lt:' .. id, P .. 'proc:' .. id)
  redis.call('ZADD', P .. 'deleted', ver(), id)
  out[#out + 1] = id
end
if #doomed > 0 then
  redis.call('ZREMRANGEBYSCORE', P .. 'deleted', '-inf', ver() - 100000)
  if redis.call('ZCARD', P .. 's:waiting') > 0 then redis.call('SET', P .. 'wdirty', '1') end
end
return done(out)
"""

APPEND_LOGS = PRELUDE + """
-- ARGV[3]: JSON {id: [lines]}; ARGV[4]: head size; ARGV[5]: tail size
local head, tail = tonumber(ARGV[4]), tonumber(ARGV[5])
local function push(key, lines)
  for i = 1, #lines, 1000 do
    redis.call('RPUSH', key, unpack(lines, i, math.min(i + 999, #lines)))
  end
end
for id, lines in pairs(cjson.decode(ARGV[3])) do
  local k = jkey(id)
  if redis.call('EXISTS', k) == 1 and #lines > 0 then
    local count = redis.call('HINCRBY', k, 'log_count', #lines)
    local first = count - #lines + 1
    local h, t = {}, {}
    for i, line in ipairs(lines) do
      if first + i - 1 <= head then h[#h + 1] = line else t[#t + 1] = line end
    end
    if #h > 0 then push(P .. 'lh:' .. id, h) end
    if #t > 0 then
      push(P .. 'lt:' .. id, t)
      redis.call('LTRIM', P .. 'lt:' .. id, -tail, -1)
    end
    touch(id)
  end
end
return done(V or 0)
"""

LOGS = """
-- ARGV: P, id, after, limit (-1: all), head size
local P, id, after, limit, head = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5])
local count = redis.call('HGET', P .. 'job:' .. id, 'log_count')
if not count then return {-1} end
count = tonumber(count)
local h = {}
if after < head then h = redis.call('LRANGE', P .. 'lh:' .. id, after, head - 1) end
local tkey = P .. 'lt:' .. id
local tfirst = count - redis.call('LLEN', tkey) + 1
local start = math.max(0, after + 1 - tfirst)
local stop = -1
if limit >= 0 then stop = start + limit - 1 end
return {count, after + 1, h, tfirst + start, redis.call('LRANGE', tkey, start, stop)}
"""

CHANGES = FIELDS + """
-- ARGV: P, since, max: jobs changed after version since, and ids deleted
local P, since, max = ARGV[1], ARGV[2], tonumber(ARGV[3])
local version = tonumber(redis.call('GET', P .. 'version') or '0')
local hits = redis.call('ZRANGEBYSCORE', P .. 'changes', '(' .. since, '+inf', 'WITHSCORES',
  'LIMIT', 0, max)
local ids = {}
for i = 1, #hits, 2 do ids[#ids + 1] = {hits[i], tonumber(hits[i + 1])} end
if #ids == max then
  local last = ids[#ids][2]
  if ids[1][2] == last then
    -- one huge write: take all of it so the reader moves on
    ids = {}
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'changes', last, last)) do
      ids[#ids + 1] = {id, last}
    end
    version = last
  else
    version = last - 1
  end
end
local jobs = {}
for _, pair in ipairs(ids) do
  if pair[2] <= version then jobs[#jobs + 1] = snap(P .. 'job:' .. pair[1]) end
end
local deleted = redis.call('ZRANGEBYSCORE', P .. 'deleted', '(' .. since, version)
return {version, jobs, deleted}
"""

SET_PROCESS = """
-- ARGV: P, job id, token, host, pgid, start time; only for a job that exists
if redis.call('EXISTS', ARGV[1] .. 'job:' .. ARGV[2]) == 0 then return 0 end
redis.call('HSET', ARGV[1] .. 'proc:' .. ARGV[2], 'token', ARGV[3], 'host', ARGV[4],
  'pgid', ARGV[5], 'start_time', ARGV[6])
return 1
"""

HEARTBEAT = """
-- ARGV: P, worker id, then field/value pairs; only for a registered worker
local k = ARGV[1] .. 'w:' .. ARGV[2]
if redis.call('EXISTS', k) == 0 then return 0 end
redis.call('HSET', k, unpack(ARGV, 3))
return 1
"""

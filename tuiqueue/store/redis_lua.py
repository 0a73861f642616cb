"""Lua scripts of the Redis store: every write is one atomic script that bumps the version.

Keys (P is the prefix): P.."id" and P.."version" counters; P.."job:"..id hashes; P.."all",
P.."t:"..type and P.."s:"..status zsets of ids scored by id; P.."r:"..queue..":"..type
(the ready sets, pending jobs scored by (priority, id)) listed in the P.."ready" set;
P.."qr:"..queue (a queue's running jobs) and P.."q:"..queue hashes (paused, limit) listed
in P.."qnames"; P.."sched" by run_at; P.."f:"..status (finished) by finished_at;
P.."changes" (id by version) and P.."deleted" (id by version) for the change feed;
P.."lh:"..id / P.."lt:"..id log head and tail lists; P.."w:"..id worker hashes and the
P.."workers" zset by start time. Numbers that must keep their precision (times) travel as
strings: Lua would print them with 14 digits.
"""

from __future__ import annotations

from tuiqueue.store.redis_lua_batches import CHANGES_BATCH
from tuiqueue.store.redis_lua_claims import CLAIM as CLAIM
from tuiqueue.store.redis_lua_claims import CLAIM_FN as CLAIM_FN
from tuiqueue.store.redis_lua_claims import FINISH as FINISH
from tuiqueue.store.redis_lua_claims import FINISH_CLAIM as FINISH_CLAIM
from tuiqueue.store.redis_lua_claims import FINISH_FN as FINISH_FN
from tuiqueue.store.redis_lua_claims import PROGRESS as PROGRESS
from tuiqueue.store.redis_lua_claims import PROMOTE as PROMOTE
from tuiqueue.store.redis_lua_prelude import FIELDS as FIELDS
from tuiqueue.store.redis_lua_prelude import PRELUDE as PRELUDE

ADD = (
    PRELUDE
    + """
-- ARGV[3]: request id (a retried call returns the first answer); ARGV[4]: JSON list of
-- {f = {field = string}, deps = [ids], run_at = string|nil, type = string}
local req = P .. 'req:' .. ARGV[3]
local seen = redis.call('GET', req)
if seen then return cjson.decode(seen) end
local jobs = cjson.decode(ARGV[4])
local missing = false
for _, job in ipairs(jobs) do
  for _, d in ipairs(job.deps) do
    local gone = redis.call('EXISTS', jkey(d)) == 0 or hidden_range(d)
    if gone and (not missing or d < missing) then missing = d end
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
  if job.f.rerun_of then redis.call('ZADD', P .. 'rr:' .. job.f.rerun_of, id, id) end
  index(id, false, status)
  touch(id)
  out[#out + 1] = id
  out[#out + 1] = status
end
redis.call('SET', req, cjson.encode(out), 'EX', 90)
return done(out)
"""
)

SAVE = (
    PRELUDE
    + """
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
)

LIVENESS_FN = """
-- dead(worker): stopped, unknown, or its lease (ARGV[3] seconds) ran out on the server's
-- clock (TIME; a worker without a server beat yet is judged by its own heartbeat field).
-- Right after a Redis restart every worker was silent: nobody is judged dead until all of
-- them have had a lease (and a reconnect) to send a heartbeat.
local uptime = string.match(redis.call('INFO', 'server'), 'uptime_in_seconds:(%d+)')
local fresh_server = tonumber(uptime or '0') < tonumber(ARGV[3]) + 1
local cutoff = tonumber(NOW) - tonumber(ARGV[3])
local t = redis.call('TIME')
local server_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease_ms = tonumber(ARGV[3]) * 1000
local verdicts = {}
local function dead(w)
  if fresh_server then return false end
  if verdicts[w] == nil then
    local info = redis.call('HMGET', P .. 'w:' .. w, 'stopped', 'heartbeat', 'beat')
    if info[1] == '1' or info[2] == false then
      verdicts[w] = true
    elseif info[3] then
      verdicts[w] = server_ms - tonumber(info[3]) > lease_ms
    else
      verdicts[w] = tonumber(info[2]) < cutoff
    end
  end
  return verdicts[w]
end
"""

ORPHANS = (
    PRELUDE
    + LIVENESS_FN
    + """
-- ARGV[3]: dead_after seconds; started jobs whose worker is stopped, unknown or silent.
local out = {}
if fresh_server then return out end
for _, status in ipairs({'running', 'paused'}) do
  for _, id in ipairs(redis.call('ZRANGE', P .. 's:' .. status, 0, -1)) do
    local cur = redis.call('HMGET', jkey(id), 'token', 'worker')
    if cur[1] and dead(cur[2] or '') then out[#out + 1] = snap(jkey(id)) end
  end
end
return out
"""
)

TAKE_OVER = (
    PRELUDE
    + LIVENESS_FN
    + FINISH_FN
    + """
-- ARGV[3]: dead_after seconds; ARGV[4]: JSON list of outcomes for orphaned runs. The
-- verdict and the takeover in one step: only the runs whose worker is still dead now are
-- finished (a worker that came back meanwhile keeps its jobs).
local still = {}
for _, o in ipairs(cjson.decode(ARGV[4])) do
  local cur = redis.call('HMGET', jkey(o.id), 'token', 'worker')
  if cur[1] == o.token and dead(cur[2] or '') then still[#still + 1] = o end
end
return done(finish(still))
"""
)

DELETE = (
    PRELUDE
    + """
-- ARGV[3]: JSON list of ids; ARGV[4]: 1 to skip ids that are gone or started (clear)
local ids = cjson.decode(ARGV[3])
local lenient = ARGV[4] == '1'
local doomed = {}
for _, id in ipairs(ids) do
  local cur = redis.call('HMGET', jkey(id), 'status', 'token')
  local started = cur[2] and (cur[1] == 'running' or cur[1] == 'paused')
  if cur[1] and hidden_range(id) then cur[1] = false end
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
  local cur = redis.call('HMGET', k, 'status', 'type', 'queue')
  local q = cur[3] or 'default'
  for _, key in ipairs({'s:' .. cur[1], 'f:' .. cur[1], 't:' .. cur[2], 'all',
                         'r:' .. q .. ':' .. cur[2], 'qr:' .. q, 'sched', 'changes'}) do
    redis.call('ZREM', P .. key, id)
  end
  redis.call('DEL', k, P .. 'lh:' .. id, P .. 'lt:' .. id, P .. 'proc:' .. id, P .. 'steps:' .. id,
    P .. 'rr:' .. id)
  redis.call('ZADD', P .. 'deleted', ver(), id)
  out[#out + 1] = id
end
if #doomed > 0 then
  redis.call('ZREMRANGEBYSCORE', P .. 'deleted', '-inf', ver() - 100000)
  if redis.call('ZCARD', P .. 's:waiting') > 0 then redis.call('SET', P .. 'wdirty', '1') end
end
return done(out)
"""
)

APPEND_LOGS = (
    PRELUDE
    + """
-- ARGV[3]: JSON {id: [token, [lines]]}; ARGV[4]: head size; ARGV[5]: tail size;
-- ARGV[6]: JSON {id: [token, lines lost before they reached the store]}.
-- Lines (and losses) of an attempt whose token is no longer the job's are dropped.
local head, tail = tonumber(ARGV[4]), tonumber(ARGV[5])
for id, lost in pairs(cjson.decode(ARGV[6] or '{}')) do
  local k = jkey(id)
  if redis.call('HGET', k, 'token') == lost[1] then
    redis.call('HINCRBY', k, 'log_dropped', lost[2])
    touch(id)
  end
end
local function push(key, lines)
  for i = 1, #lines, 1000 do
    redis.call('RPUSH', key, unpack(lines, i, math.min(i + 999, #lines)))
  end
end
for id, batch in pairs(cjson.decode(ARGV[3])) do
  local k = jkey(id)
  local lines = batch[2]
  if #lines > 0 and redis.call('HGET', k, 'token') == batch[1] then
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
)

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
return {count, after + 1, h, tfirst + start, redis.call('LRANGE', tkey, start, stop),
  redis.call('HGET', P .. 'job:' .. id, 'log_dropped') or 0}
"""

CHANGES = (
    FIELDS
    + """
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
BATCHES
local jobs = {}
for _, pair in ipairs(ids) do
  if pair[2] <= version then jobs[#jobs + 1] = snap(P .. 'job:' .. pair[1]) end
end
local deleted = redis.call('ZRANGEBYSCORE', P .. 'deleted', '(' .. since, version)
return {version, jobs, deleted}
"""
).replace("BATCHES\n", CHANGES_BATCH)

SET_PROCESS = """
-- ARGV: P, job id, token, host, pgid, start time; only for the job's current attempt
if redis.call('HGET', ARGV[1] .. 'job:' .. ARGV[2], 'token') ~= ARGV[3] then return 0 end
redis.call('HSET', ARGV[1] .. 'proc:' .. ARGV[2], 'token', ARGV[3], 'host', ARGV[4],
  'pgid', ARGV[5], 'start_time', ARGV[6])
return 1
"""

HEARTBEAT = """
-- ARGV: P, worker id, then field/value pairs; only for a registered worker.
-- 'beat' is the server's own clock in ms (TIME): leases are judged on one clock, never by
-- comparing two machines' wall clocks.
local k = ARGV[1] .. 'w:' .. ARGV[2]
if redis.call('EXISTS', k) == 0 then return 0 end
local t = redis.call('TIME')
redis.call('HSET', k, 'beat', tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)))
redis.call('HSET', k, unpack(ARGV, 3))
return 1
"""

FORGET_PROCESS = """
-- ARGV: P, job id; forget its process record unless the job's current attempt owns it
local k = ARGV[1] .. 'proc:' .. ARGV[2]
local held = redis.call('HGET', k, 'token')
if held and held ~= redis.call('HGET', ARGV[1] .. 'job:' .. ARGV[2], 'token') then
  redis.call('DEL', k)
  return 1
end
return 0
"""

BEAT = """
-- ARGV: P, worker id, running, processed, heartbeat, JSON [[id, token], ...]: HEARTBEAT's
-- beat, then each run whose job is gone or holds another token (superseded), as
-- {id, token, status ('' when deleted), worker, attempts}
local k = ARGV[1] .. 'w:' .. ARGV[2]
if redis.call('EXISTS', k) == 1 then
  local t = redis.call('TIME')
  redis.call('HSET', k, 'beat',
    tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)),
    'running', ARGV[3], 'processed', ARGV[4], 'heartbeat', ARGV[5])
end
local out = {}
for _, run in ipairs(cjson.decode(ARGV[6])) do
  local cur = redis.call('HMGET', ARGV[1] .. 'job:' .. run[1], 'token', 'status', 'worker',
    'attempts')
  if cur[1] ~= run[2] then
    out[#out + 1] = {run[1], run[2], cur[2] or '', cur[3] or '', cur[4] or '0'}
  end
end
return out
"""

UPGRADE = (
    PRELUDE
    + """
-- a store written before queues: its one ready set P..'pending' becomes the ready sets of
-- the default queue, and its running jobs that queue's running set
local old = P .. 'pending'
if redis.call('EXISTS', old) == 0 then return 0 end
local all = redis.call('ZRANGE', old, 0, -1, 'WITHSCORES')
for i = 1, #all, 2 do
  local id, score = all[i], all[i + 1]
  local q, qt = pair(jkey(id))
  if redis.call('HGET', jkey(id), 'status') == 'pending' then
    redis.call('ZADD', P .. 'r:' .. qt, score, id)
    redis.call('SADD', P .. 'ready', qt)
  end
end
for _, id in ipairs(redis.call('ZRANGE', P .. 's:running', 0, -1)) do
  local q = pair(jkey(id))
  redis.call('ZADD', P .. 'qr:' .. q, id, id)
end
redis.call('DEL', old)
return #all / 2
"""
)

QUEUES = """
-- ARGV: P; every queue with settings or pending/running jobs:
-- {name, paused, limit or '', running, pending} each
local P = ARGV[1]
local seen, names = {}, {}
local function add(q)
  if not seen[q] then seen[q] = {0, 0}; names[#names + 1] = q end
end
for _, q in ipairs(redis.call('SMEMBERS', P .. 'qnames')) do add(q) end
for _, qt in ipairs(redis.call('SMEMBERS', P .. 'ready')) do
  local q = string.sub(qt, 1, string.find(qt, ':', 1, true) - 1)
  add(q)
  seen[q][2] = seen[q][2] + redis.call('ZCARD', P .. 'r:' .. qt)
end
local out = {}
for _, q in ipairs(names) do
  local st = redis.call('HMGET', P .. 'q:' .. q, 'paused', 'limit')
  local running = redis.call('ZCARD', P .. 'qr:' .. q)
  if running > 0 or seen[q][2] > 0 or st[1] == '1' or st[2] then
    out[#out + 1] = {q, st[1] or '0', st[2] or '', running, seen[q][2]}
  end
end
return out
"""

QUEUE_SET = """
-- ARGV: P, queue, field ('paused' or 'limit'), value ('' removes it)
local P, q, field, value = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local k = P .. 'q:' .. q
if value == '' then redis.call('HDEL', k, field) else redis.call('HSET', k, field, value) end
if redis.call('EXISTS', k) == 1 then redis.call('SADD', P .. 'qnames', q)
else redis.call('SREM', P .. 'qnames', q) end
local v = redis.call('INCR', P .. 'version')
redis.call('PUBLISH', P .. 'events', v)
return v
"""

HISTORY = """
-- ARGV: P, status, since, now, width, offset, limit, times (1: also the run times).
-- One page (newest first) of the jobs that reached `status` in [since, now], counted per
-- type and bucket: {scanned, {type, bucket, n, ...}, {type, seconds, ...}}. Run times (of
-- jobs that started) travel as strings: Lua would turn a number reply into an integer.
local P, status = ARGV[1], ARGV[2]
local since, width = tonumber(ARGV[3]), tonumber(ARGV[5])
local page = redis.call('ZREVRANGEBYSCORE', P .. 'f:' .. status, ARGV[4], ARGV[3],
  'WITHSCORES', 'LIMIT', ARGV[6], ARGV[7])
local want = ARGV[8] == '1'
local counts, names, times = {}, {}, {}
for i = 1, #page, 2 do
  local f = redis.call('HMGET', P .. 'job:' .. page[i], 'type', 'started_at')
  if f[1] then
    local finished = tonumber(page[i + 1])
    local b = math.floor((finished - since) / width)
    local per = counts[f[1]]
    if not per then per = {}; counts[f[1]] = per; names[#names + 1] = f[1] end
    per[b] = (per[b] or 0) + 1
    if want and f[2] then
      times[#times + 1] = f[1]
      times[#times + 1] = string.format('%.17g', finished - tonumber(f[2]))
    end
  end
end
local flat = {}
for _, name in ipairs(names) do
  for b, n in pairs(counts[name]) do
    flat[#flat + 1] = name; flat[#flat + 1] = b; flat[#flat + 1] = n
  end
end
return {#page / 2, flat, times}
"""

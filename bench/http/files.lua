-- wrk script for bench/http/run.sh: every connection cycles through the same
-- set of files, so both servers are asked for exactly the same URLs.
--
-- Arguments (after `--` on the wrk command line):
--   PREFIX COUNT SUFFIX   requests PREFIX00 SUFFIX .. PREFIX(COUNT-1) SUFFIX,
--                         e.g. "/media/4k/f" 16 ".bin" -> /media/4k/f00.bin ...
--
-- done() prints one machine-readable line that run.sh parses:
--   WRK_RESULT requests duration_us bytes connect read write status timeout p50_us p99_us

local requests = {}
local next_index = 1
local threads_made = 0

-- Called in the main Lua state for each thread before it starts: number them.
function setup(thread)
    thread:set("thread_id", threads_made)
    threads_made = threads_made + 1
end

-- Called once per wrk thread, in that thread's own Lua state. The requests are
-- formatted once here, so the per-request cost in wrk is a table lookup.
function init(args)
    local prefix = args[1] or "/media/f"
    local count = tonumber(args[2] or "1")
    local suffix = args[3] or ""
    for i = 0, count - 1 do
        requests[#requests + 1] =
            wrk.format("GET", string.format("%s%02d%s", prefix, i, suffix))
    end
    -- Threads start at different files so they do not walk in lockstep.
    next_index = ((thread_id or 0) * 7) % #requests + 1
end

function request()
    local r = requests[next_index]
    next_index = next_index % #requests + 1
    return r
end

function done(summary, latency, _)
    local e = summary.errors
    io.write(string.format("WRK_RESULT %d %d %d %d %d %d %d %d %d %d\n",
        summary.requests, summary.duration, summary.bytes,
        e.connect, e.read, e.write, e.status, e.timeout,
        latency:percentile(50), latency:percentile(99)))
end

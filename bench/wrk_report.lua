-- wrk script for bench/load.py: optionally POST a body, and print one machine-readable summary.
-- BENCH_UPLOAD_BYTES (environment): when set, every request is a POST with that many bytes.
-- done() prints a single line "BENCH-RESULT {json}" that bench/load.py parses; latencies are
-- in microseconds, as wrk records them.

local upload = tonumber(os.getenv("BENCH_UPLOAD_BYTES") or "")
if upload then
   wrk.method = "POST"
   wrk.body = string.rep("u", upload)
   wrk.headers["Content-Type"] = "application/octet-stream"
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH-RESULT {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
      '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, ' ..
      '"p50_us": %d, "p99_us": %d, "max_us": %d}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.max))
end

-- wrk script: after the run, print one JSON line with the figures benches/http/compare.sh reads.
-- No request()/response() hooks, so wrk keeps its fast C path. Latencies are in microseconds.
-- wrk counts a response as a status error when its code is 400 or more (summary.errors.status);
-- compare.sh checks each URL for a 2xx with curl before loading it.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "status_errors": %d, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.status,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end

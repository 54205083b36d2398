#!/usr/bin/env python3
"""The registry's own share of a Basic login: what any client must wait for, with no process start.
Times, in this process, the exchange a login makes (GET /v2/ -> 401 on a new connection, then
GET /v2/ with Basic credentials on the same connection) RUNS times and prints the median and the
minimum in milliseconds. Usage: server_share.py HOST:PORT USER PASSWORD [RUNS]"""
import base64
import http.client
import statistics
import sys
import time

host, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
runs = int(sys.argv[4]) if len(sys.argv) > 4 else 40
auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
times = []
for _ in range(runs + 3):
    start = time.perf_counter()
    conn = http.client.HTTPConnection(host, timeout=10)
    conn.request("GET", "/v2/")
    first = conn.getresponse()
    first.read()
    conn.request("GET", "/v2/", headers={"Authorization": auth})
    second = conn.getresponse()
    second.read()
    conn.close()
    if (first.status, second.status) != (401, 200):
        sys.exit(f"unexpected statuses {first.status}, {second.status}")
    times.append((time.perf_counter() - start) * 1000)
times = times[3:]
print(f"median={statistics.median(times):.2f} min={min(times):.2f} runs={runs}")

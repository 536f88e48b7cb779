#!/usr/bin/env python3
"""Admin API figures for docs/admin-queries.md (a benchmark, not a test; standard library only).

Against a running `oms serve` whose database was made by `oms seed-demo --orders 1000000`:
- p50/p99 of a filtered list page: N sequential requests on one keep-alive connection, each
  `GET /api/admin/orders?<filter>&limit=50`: the first page N times, then N pages following
  `next_cursor` (so deep pages are measured too);
- the export of every order: time to the first byte, rows per second, and the server's memory
  while it streams (VmRSS sampled every 50 ms from /proc/PID/status, and VmHWM, the peak since
  the process started, read before and after).

usage: bench/admin-bench.py --base http://127.0.0.1:18080 --token JWT --pid SERVER_PID
"""

import argparse
import http.client
import json
import math
import statistics
import threading
import time
import urllib.parse


def proc_kib(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def connect(base):
    url = urllib.parse.urlparse(base)
    return http.client.HTTPConnection(url.hostname, url.port or 80, timeout=600)


def list_latencies(base, token, query, count, follow=True, route="/api/admin/orders"):
    conn = connect(base)
    headers = {"Authorization": f"Bearer {token}"}
    times = []
    cursor = None
    for _ in range(count):
        path = f"{route}?{query}&limit=50"
        if cursor:
            path += "&cursor=" + urllib.parse.quote(cursor)
        start = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        times.append((time.perf_counter() - start) * 1000)
        if response.status != 200:
            raise SystemExit(f"{path}: {response.status} {body[:300]!r}")
        if follow:
            cursor = json.loads(body)["next_cursor"]
            if cursor is None:
                break
    times.sort()
    return {
        "requests": len(times),
        "p50_ms": round(statistics.median(times), 2),
        "p99_ms": round(times[min(len(times) - 1, math.ceil(len(times) * 0.99) - 1)], 2),
        "max_ms": round(times[-1], 2),
    }


def export(base, token, pid, query=""):
    samples = []
    done = threading.Event()

    def sample():
        while not done.is_set():
            samples.append(proc_kib(pid, "VmRSS"))
            time.sleep(0.05)

    hwm_before = proc_kib(pid, "VmHWM")
    rss_before = proc_kib(pid, "VmRSS")
    sampler = threading.Thread(target=sample)
    sampler.start()
    conn = connect(base)
    start = time.perf_counter()
    conn.request(
        "GET", f"/api/admin/orders/export?{query}", headers={"Authorization": f"Bearer {token}"}
    )
    response = conn.getresponse()
    first = None
    lines = 0
    size = 0
    while True:
        chunk = response.read1(1 << 16)
        if not chunk:
            break
        if first is None:
            first = time.perf_counter() - start
        lines += chunk.count(b"\n")
        size += len(chunk)
    total = time.perf_counter() - start
    done.set()
    sampler.join()
    rows = lines - 1
    return {
        "status": response.status,
        "rows": rows,
        "megabytes": round(size / 1e6, 1),
        "first_byte_ms": round((first or 0) * 1000, 1),
        "seconds": round(total, 2),
        "rows_per_second": round(rows / total),
        "rss_before_mib": round(rss_before / 1024, 1),
        "rss_max_sampled_mib": round(max(samples or [0]) / 1024, 1),
        "hwm_before_mib": round(hwm_before / 1024, 1),
        "hwm_after_mib": round(proc_kib(pid, "VmHWM") / 1024, 1),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--pid", required=True, type=int)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--created-from", default="")
    parser.add_argument(
        "--suite", choices=["orders", "customers-audit"], default="orders",
        help="orders: the order list and export; customers-audit: the customer and audit lists",
    )
    parser.add_argument("--target-order", default="", help="an order id the audit log names")
    parser.add_argument("--actor-id", default="", help="a user id the audit log names as actor")
    args = parser.parse_args()
    if args.suite == "customers-audit":
        customers_and_audit(args)
        return
    filters = {
        "status=PAID": "status=PAID",
        "status=PAID&status=FULFILLED&created_from": "status=PAID&status=FULFILLED&created_from="
        + urllib.parse.quote(args.created_from),
        "min_total=20000&max_total=30000": "min_total=20000&max_total=30000",
    }
    for name, query in filters.items():
        for follow in (False, True):
            pages = "following next_cursor" if follow else "first page, repeated"
            figures = list_latencies(args.base, args.token, query, args.requests, follow)
            print(json.dumps({"list": name, "pages": pages, **figures}))
    print(json.dumps({"export": "all orders", **export(args.base, args.token, args.pid)}))


def customers_and_audit(args):
    lists = [
        ("/api/admin/customers", "no filter", ""),
        ("/api/admin/customers", "q=shopper (matches most)", "q=shopper"),
        ("/api/admin/customers", "q=no-such-email (matches none)", "q=no-such-email"),
        ("/api/admin/customers", "role=ADMIN (few)", "role=ADMIN"),
        ("/api/admin/customers", "status=disabled (few)", "status=disabled"),
        ("/api/admin/customers", "status=active&role=CUSTOMER", "status=active&role=CUSTOMER"),
        ("/api/admin/audit", "no filter", ""),
        ("/api/admin/audit", "action=order.refunded", "action=order.refunded"),
        ("/api/admin/audit", "target order", f"target_type=order&target_id={args.target_order}"),
        ("/api/admin/audit", "actor_id (a customer)", f"actor_id={args.actor_id}"),
        ("/api/admin/audit", "created_from (last 30 days)",
         "created_from=" + urllib.parse.quote(args.created_from)),
    ]
    for route, name, query in lists:
        for follow in (False, True):
            pages = "following next_cursor" if follow else "first page, repeated"
            figures = list_latencies(args.base, args.token, query, args.requests, follow, route)
            print(json.dumps({"list": f"{route} {name}", "pages": pages, **figures}))


if __name__ == "__main__":
    main()

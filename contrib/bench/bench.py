#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench.py - helpers for contrib/bench/run.sh (`make bench`).

Small TCP tools the benchmark runs on either side of a contender, and the summary:

  conn-server ADDR PORT          accept forever; send one byte to each client, then close.
  conn-client ADDR PORT N        connection setup latency: N times connect(), read the first
                                 byte, close; prints "p50 p99" in microseconds.
  conn-pair N ADDR:PORT,...      the same against several forwards at once, one connection to
                                 each in turn (the order rotating), N to each; prints
                                 "ADDR:PORT p50 p99" per forward. Side by side like this,
                                 the machine's drift hits every contender alike.
  pp-server ADDR PORT            echo server for pp-client (used when sockperf is missing).
  pp-client ADDR PORT SECONDS    TCP request/response latency: one 14-byte request, wait for
                                 the whole echo, repeat for SECONDS; prints "p50 p99" (µs RTT).
  summarise SAMPLES OUTDIR MACHINE
                                 medians over rounds, ratios of slirpns to the others
                                 (slirp4netns, pasta and veth, the physical limit),
                                 PASS/MISS against the targets; writes OUTDIR/results.csv,
                                 OUTDIR/results.md and the chart's data files, prints the table.

Servers print "ready" once they listen. Everything here is standard library only.
"""

import csv
import socket
import statistics
import sys
import time

MSG_SIZE = 14  # sockperf's default message size


def percentile(values, pct):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, int(round(pct / 100.0 * len(ordered) + 0.5)))
    return ordered[min(rank, len(ordered)) - 1]


def listen(addr, port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, int(port)))
    srv.listen(128)
    print("ready", flush=True)
    return srv


def conn_server(addr, port):
    srv = listen(addr, port)
    while True:
        conn, _ = srv.accept()
        try:
            conn.sendall(b"x")
        except OSError:
            pass
        conn.close()


def connect_once(addr, port):
    """One connect + first byte + close; the setup time in microseconds."""
    start = time.perf_counter_ns()
    sock = socket.create_connection((addr, int(port)), timeout=10)
    first = sock.recv(1)
    elapsed = time.perf_counter_ns() - start
    sock.close()
    if first != b"x":
        sys.exit("conn-client: no first byte from the server at %s:%s" % (addr, port))
    return elapsed / 1000.0


def conn_client(addr, port, count):
    times = [connect_once(addr, port) for _ in range(int(count))]
    print("%.1f %.1f" % (statistics.median(times), percentile(times, 99)))


def conn_pair(count, targets):
    forwards = [t.rsplit(":", 1) for t in targets.split(",")]
    times = [[] for _ in forwards]
    for i in range(int(count)):
        for k in range(len(forwards)):
            j = (i + k) % len(forwards)
            times[j].append(connect_once(*forwards[j]))
    for (addr, port), samples in zip(forwards, times):
        print("%s:%s %.1f %.1f" % (addr, port, statistics.median(samples),
                                   percentile(samples, 99)))


def recv_exactly(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("peer closed")
        data += chunk
    return data


def pp_server(addr, port):
    srv = listen(addr, port)
    while True:
        conn, _ = srv.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                conn.sendall(recv_exactly(conn, MSG_SIZE))
        except (ConnectionError, OSError):
            conn.close()


def pp_client(addr, port, seconds):
    sock = socket.create_connection((addr, int(port)), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    msg = b"p" * MSG_SIZE
    times = []
    end = time.monotonic() + float(seconds)
    while time.monotonic() < end:
        start = time.perf_counter_ns()
        sock.sendall(msg)
        recv_exactly(sock, MSG_SIZE)
        times.append((time.perf_counter_ns() - start) / 1000.0)
    sock.close()
    print("%.1f %.1f" % (statistics.median(times), percentile(times, 99)))


# ---- summary ------------------------------------------------------------------------------

CONTENDERS = ["slirpns", "slirp4netns", "pasta", "veth"]
OTHERS = CONTENDERS[1:]
NOISY = 0.25  # a median is marked "~" when some sample is further than this from it

# metric: (label, unit, higher_is_better, {mtu or None: target}, target kind)
# Target kinds: "ratio" compares slirpns / slirp4netns; "abs" compares slirpns' own value.
# Measured with every contender side by side in each round (run.sh's bench_connect).
PAIRED = {"conn_p50", "conn_p99"}

METRICS = [
    ("tput_ns_host", "throughput ns->host (10.0.2.2 = host loopback)", "Gbit/s", True,
     {"1500": 5.0, "65520": 1.5}, "ratio"),
    ("tput_host_ns_fwd", "throughput host->ns, forward, non-loopback client", "Gbit/s", True,
     {"1500": 3.0, "65520": 1.2}, "ratio"),
    ("tput_host_ns_lo", "throughput host->ns, forward, loopback client", "Gbit/s", True,
     {"1500": 8.0, "65520": 2.5}, "ratio"),
    ("udp_ns_host", "UDP throughput ns->host (-b 0)", "Gbit/s", True, {}, "ratio"),
    ("udp_host_ns_fwd", "UDP throughput host->ns, forward, non-loopback client (-b 0)",
     "Gbit/s", True, {}, "ratio"),
    ("udplost0_ns_host", "UDP loss at -b 0, ns->host", "%", False, {}, "ratio"),
    ("udplost0_host_ns_fwd", "UDP loss at -b 0, host->ns, forward", "%", False, {}, "ratio"),
    ("udploss_ns_host", "UDP loss at 80% of slirp4netns's rate, ns->host", "%", False, {},
     "ratio"),
    ("udploss_host_ns_fwd", "UDP loss at 80% of slirp4netns's rate, host->ns, forward", "%",
     False, {}, "ratio"),
    ("lat_p50", "TCP request/response RTT ns->host, median", "us", False,
     {None: 0.8}, "ratio"),
    ("lat_p99", "TCP request/response RTT ns->host, p99", "us", False, {}, "ratio"),
    ("conn_p50", "connection setup via forward (connect+first byte), median", "us", False,
     {None: 1.0}, "ratio"),
    ("conn_p99", "connection setup via forward (connect+first byte), p99", "us", False,
     {}, "ratio"),
    ("cpu_ns_host", "daemon CPU per GB, ns->host", "s/GB", False, {"1500": 0.5}, "ratio"),
    ("cpu_host_ns_fwd", "daemon CPU per GB, host->ns, non-loopback client", "s/GB", False,
     {"1500": 0.5}, "ratio"),
    ("cpu_host_ns_lo", "daemon CPU per GB, host->ns, loopback client", "s/GB", False,
     {"1500": 0.5}, "ratio"),
    ("udpcpu_ns_host", "daemon CPU per GB of UDP, ns->host", "s/GB", False, {}, "ratio"),
    ("udpcpu_host_ns_fwd", "daemon CPU per GB of UDP, host->ns, forward", "s/GB", False, {},
     "ratio"),
    ("rss_peak", "peak RSS (VmHWM) after the runs", "MiB", False, {None: 1.2}, "ratio"),
    ("idle_wakeups", "idle wake-ups (context switches), no traffic", "1/s", False,
     {None: 0.5}, "abs"),
    ("exec_ready", "exec-to-ready", "ms", False, {None: 1.0}, "ratio"),
    ("http_ns_host", "HTTP keep-alive ns->host nginx (wrk -c32, 1 KiB)", "req/s", True, {},
     "ratio"),
    ("httpc_ns_host", "HTTP one connection per request, ns->host nginx", "req/s", True, {},
     "ratio"),
    ("http_host_ns", "HTTP keep-alive host 127.0.0.1 forward -> ns nginx", "req/s", True, {},
     "ratio"),
    ("httpc_host_ns", "HTTP one connection per request, host forward -> ns nginx", "req/s",
     True, {}, "ratio"),
    ("reqcpu_ka_ns_host", "daemon CPU per 1000 requests, HTTP keep-alive ns->host", "ms",
     False, {}, "ratio"),
    ("reqcpu_close_ns_host", "daemon CPU per 1000 requests, HTTP close ns->host", "ms",
     False, {}, "ratio"),
    ("reqcpu_ka_host_ns", "daemon CPU per 1000 requests, HTTP keep-alive host->ns", "ms",
     False, {}, "ratio"),
    ("reqcpu_close_host_ns", "daemon CPU per 1000 requests, HTTP close host->ns", "ms",
     False, {}, "ratio"),
    ("sysc_ns_host", "daemon syscalls per keep-alive request, ns->host (strace -c -f)", "1/req",
     False, {}, "ratio"),
    ("sysc_host_ns", "daemon syscalls per keep-alive request, host->ns (strace -c -f)", "1/req",
     False, {}, "ratio"),
    ("wan_down1", "WAN download (-R), 1 stream, to remote 198.51.100.2", "Gbit/s", True, {},
     "ratio"),
    ("wan_down8", "WAN download (-R), 8 streams", "Gbit/s", True, {}, "ratio"),
    ("wan_up1", "WAN upload, 1 stream", "Gbit/s", True, {}, "ratio"),
    ("wan_up8", "WAN upload, 8 streams", "Gbit/s", True, {}, "ratio"),
]


# Rows about the daemon, which veth does not have: its cell reads "n/a".
def no_veth(metric):
    return metric.split("_")[0] in ("cpu", "udpcpu", "rss", "idle", "exec", "reqcpu", "sysc")


# Throughput rows, drawn in absolute numbers on the chart.
def is_tput(metric):
    return metric.startswith("tput_") or metric in ("udp_ns_host", "udp_host_ns_fwd")


def load_samples(path):
    """{(metric, mtu, contender): {round: [values]}} from run.sh's samples.csv."""
    samples = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                value = float(row["value"])
            except ValueError:
                continue
            key = (row["metric"], row["mtu"], row["contender"])
            samples.setdefault(key, {}).setdefault(row["round"], []).append(value)
    return samples


def ratio_of(metric, by_round, other):
    """slirpns / other. Metrics measured side by side (PAIRED) take the median of each round's
    own ratio, which the machine's drift between rounds does not touch; the others, measured
    one contender after the other, the ratio of the medians."""
    mine, theirs = by_round.get("slirpns"), by_round.get(other)
    if not mine or not theirs:
        return None
    if metric in PAIRED:
        pairs = [statistics.median(mine[r]) / statistics.median(theirs[r])
                 for r in mine if r in theirs and statistics.median(theirs[r])]
        return statistics.median(pairs) if pairs else None
    med = statistics.median(all_values(theirs))
    return statistics.median(all_values(mine)) / med if med else None


def all_values(by_round):
    return [v for values in by_round.values() for v in values]


def fmt(value):
    if value is None:
        return "-"
    if value >= 100:
        return "%.0f" % value
    if value >= 10:
        return "%.1f" % value
    return "%.3g" % value


def judge(higher_better, kind, target, own, ratio):
    """PASS/MISS for one row, or "" when it has no target, "n/a" when it cannot be judged."""
    if target is None:
        return ""
    value = own if kind == "abs" else ratio
    if value is None:
        return "n/a"
    ok = value >= target if higher_better else value <= target
    return "PASS" if ok else "MISS"


def target_text(higher_better, kind, target):
    if target is None:
        return ""
    if kind == "abs":
        return "<= %g absolute" % target
    return ("%s %gx" % (">=" if higher_better else "<=", target))


def summarise(samples_path, outdir, machine_path):
    samples = load_samples(samples_path)
    mtus = sorted({k[1] for k in samples}, key=int)
    rows = []
    for metric, label, unit, higher, targets, kind in METRICS:
        for mtu in mtus:
            med, count, noisy, by_round = {}, {}, {}, {}
            for c in CONTENDERS:
                by_round[c] = samples.get((metric, mtu, c))
                values = all_values(by_round[c]) if by_round[c] else None
                med[c] = statistics.median(values) if values else None
                count[c] = len(values) if values else 0
                noisy[c] = bool(med[c]) and max(abs(v - med[c]) for v in values) > \
                    NOISY * abs(med[c])
            if not any(count.values()):
                continue
            ratio = {other: ratio_of(metric, by_round, other) for other in OTHERS}
            target = targets.get(mtu, targets.get(None))
            rows.append({
                "metric": metric, "label": label, "unit": unit, "mtu": mtu,
                "med": med, "n": count, "ratio": ratio, "noisy": noisy,
                "target": target_text(higher, kind, target),
                "result": judge(higher, kind, target, med["slirpns"], ratio["slirp4netns"]),
                "higher": higher,
            })
    write_csv(rows, outdir + "/results.csv")
    present = [c for c in CONTENDERS if any(k[2] == c for k in samples)]
    table = markdown(rows, present)
    with open(machine_path) as f:
        machine = f.read()
    with open(outdir + "/results.md", "w") as f:
        f.write("# slirpns benchmark\n\n" + machine + "\n" + table)
    write_chart_data(rows, outdir)
    print(table, end="")


def write_csv(rows, path):
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["metric", "description", "unit", "mtu"] + CONTENDERS +
                     ["ratio_slirpns_" + o for o in OTHERS] +
                     ["samples_" + c for c in CONTENDERS] + ["target", "result"])
        for r in rows:
            out.writerow([r["metric"], r["label"], r["unit"], r["mtu"]] +
                         ["" if r["med"][c] is None else "%.6g" % r["med"][c]
                          for c in CONTENDERS] +
                         ["" if r["ratio"][o] is None else "%.4g" % r["ratio"][o]
                          for o in OTHERS] +
                         [r["n"][c] for c in CONTENDERS] + [r["target"], r["result"]])


def cell(r, c):
    if r["med"][c] is None:
        return "n/a" if c == "veth" and no_veth(r["metric"]) else "-"
    return fmt(r["med"][c]) + ("~" if r["noisy"][c] else "")


def markdown(rows, present):
    """The table, with a column for each contender that has samples (slirpns always)."""
    shown = [c for c in CONTENDERS if c == "slirpns" or c in present]
    others = [o for o in shown if o != "slirpns"]
    lines = ["| measurement | MTU | unit | " + " | ".join(shown) + " | " +
             " | ".join("slirpns/" + o for o in others) + " | target | result |",
             "|---|---:|---|" + "---:|" * (len(shown) + len(others)) + "---|---|"]
    for r in rows:
        ratios = ["%.2fx" % r["ratio"][o] if r["ratio"][o] is not None else "-"
                  for o in others]
        cells = [cell(r, c) for c in shown]
        lines.append("| " + " | ".join([r["label"], r["mtu"], r["unit"]] + cells + ratios +
                                       [r["target"], r["result"]]) + " |")
    judged = [r for r in rows if r["result"] in ("PASS", "MISS")]
    missed = [r for r in judged if r["result"] == "MISS"]
    lines.append("")
    lines.append("Values are medians over rounds (~: a sample lies more than %d%% from the "
                 "median; samples.csv has them all). Ratios are slirpns / other: of the "
                 "medians, or for connection setup (measured side by side) the median of "
                 "each round's ratio. "
                 "Targets: %d of %d met." % (NOISY * 100, len(judged) - len(missed), len(judged)))
    if "veth" in shown:
        lines.append("")
        lines.append("veth: the physical limit, a root-made namespace on a veth pair, no daemon "
                     "(n/a: rows about the daemon). Its host->ns rows and connection setup go "
                     "direct to the namespace's address, no NAT (\"non-loopback client\": "
                     "bound to 192.0.2.1; \"loopback client\": unbound, from 10.0.2.2); its "
                     "ns->host goes to the host's end of the veth, not to the host's loopback.")
    lines.append("")
    lines.append("UDP: iperf3 -u -l 1400, rate and loss at the receiver; the loss rows and "
                 "UDP CPU per GB offer 80% of what slirp4netns received at -b 0 in the same "
                 "round. CPU per GB is per 10^9 bytes received.")
    lines.append("")
    lines.append("HTTP: wrk -t2 -c32 against nginx (one process) serving a 1 KiB file; CPU per "
                 "1000 requests is the daemon's utime+stime over the run; syscalls per request "
                 "under strace -c -f (wrk -c8, 2 s). WAN: iperf3 -n between the namespace and a "
                 "remote namespace behind a veth (MTU 1500; delay and NAT: see above); veth "
                 "reaches it through the host namespace (veth+NAT).")
    for r in missed:
        lines.append("MISS: %s at MTU %s (target %s)" % (r["label"], r["mtu"], r["target"]))
    return "\n".join(lines) + "\n"


def chart_value(value):
    return "NaN" if value is None else "%.6g" % value


SHORT = {
    "tput_ns_host": "ns->host", "tput_host_ns_fwd": "fwd non-lo", "tput_host_ns_lo": "fwd lo",
    "lat_p50": "RTT p50", "lat_p99": "RTT p99", "conn_p50": "conn p50", "conn_p99": "conn p99",
    "cpu_ns_host": "CPU/GB ns->host", "cpu_host_ns_fwd": "CPU/GB fwd", "cpu_host_ns_lo":
    "CPU/GB fwd lo", "rss_peak": "peak RSS", "idle_wakeups": "idle wakeups",
    "exec_ready": "exec-to-ready", "udp_ns_host": "UDP ns->host", "udp_host_ns_fwd":
    "UDP fwd", "udplost0_ns_host": "UDP loss b0 ns->host", "udplost0_host_ns_fwd":
    "UDP loss b0 fwd", "udploss_ns_host": "UDP loss 80% ns->host", "udploss_host_ns_fwd":
    "UDP loss 80% fwd", "udpcpu_ns_host": "CPU/GB UDP ns->host", "udpcpu_host_ns_fwd":
    "CPU/GB UDP fwd", "http_ns_host": "HTTP ka ns->host", "httpc_ns_host": "HTTP close ns->host",
    "http_host_ns": "HTTP ka host->ns", "httpc_host_ns": "HTTP close host->ns",
    "reqcpu_ka_ns_host": "CPU/1k req ka ns->host", "reqcpu_close_ns_host":
    "CPU/1k req close ns->host", "reqcpu_ka_host_ns": "CPU/1k req ka host->ns",
    "reqcpu_close_host_ns": "CPU/1k req close host->ns", "sysc_ns_host": "syscalls/req ns->host",
    "sysc_host_ns": "syscalls/req host->ns", "wan_down1": "WAN down 1", "wan_down8": "WAN down 8",
    "wan_up1": "WAN up 1", "wan_up8": "WAN up 8",
}


def write_chart_data(rows, outdir):
    """chart-tput.dat: absolute throughput; chart-ratio.dat: 'goodness' ratios for the rest."""
    with open(outdir + "/chart-tput.dat", "w") as f:
        f.write("# label slirpns slirp4netns pasta veth (Gbit/s)\n")
        for r in rows:
            if is_tput(r["metric"]):
                f.write('"%s %s" %s\n' % (SHORT[r["metric"]], r["mtu"], " ".join(
                    chart_value(r["med"][c]) for c in CONTENDERS)))
    with open(outdir + "/chart-ratio.dat", "w") as f:
        # How many times better slirpns is than each other contender (>1 = slirpns better).
        f.write("# label better_than_slirp4netns better_than_pasta better_than_veth\n")
        for r in rows:
            values = []
            for o in OTHERS:
                ratio = r["ratio"][o]
                if ratio:
                    values.append(ratio if r["higher"] else 1.0 / ratio)
                else:
                    values.append(None)
            f.write('"%s %s" %s\n' % (SHORT[r["metric"]], r["mtu"],
                                      " ".join(chart_value(v) for v in values)))


def main(argv):
    commands = {
        "conn-server": (conn_server, 2), "conn-client": (conn_client, 3),
        "conn-pair": (conn_pair, 2),
        "pp-server": (pp_server, 2), "pp-client": (pp_client, 3),
        "summarise": (summarise, 3),
    }
    if len(argv) < 2 or argv[1] not in commands or len(argv) - 2 != commands[argv[1]][1]:
        sys.exit(__doc__)
    func, _ = commands[argv[1]]
    func(*argv[2:])


if __name__ == "__main__":
    main(sys.argv)

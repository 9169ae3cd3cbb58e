#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""flood.py - bounded load generators and probes for tests/integration/bounds.sh.

  flood.py syn DST FIRST_PORT PORTS [EXTRA_PORT EXTRA_COUNT]
      From inside the namespace (raw socket, needs CAP_NET_RAW there): one TCP SYN to each
      of PORTS ports of DST from FIRST_PORT on, then EXTRA_COUNT more to EXTRA_PORT, each from
      a spoofed source (10.0.2.150-249, random port), so that nobody answers our SYN-ACKs.
  flood.py udp DST PORT FLOWS
      FLOWS datagrams to DST:PORT, each from a different spoofed source address and port.
  flood.py listen FIRST_PORT PORTS
      On the host: listen on PORTS ports of 127.0.0.1 (backlog 1) and never accept; prints
      "ready" and sleeps.
  flood.py stream-server PORT OUT
      On the host: accept one connection on 127.0.0.1:PORT, read forever, and write the byte
      count to OUT every 100 ms (as "SECONDS BYTES").
  flood.py stream-client DST PORT SECONDS
      In the namespace: connect and send for SECONDS seconds (64 KiB writes, ~40 MB/s).
  flood.py conns DST PORT COUNT HOLD
      In the namespace: COUNT connections, one after another, kept open; prints
      "open N refused M", then holds them HOLD seconds.
  flood.py hold-server PORT
      On the host: accept every connection on 127.0.0.1:PORT and keep it until its EOF.
  flood.py slow-sink PORT DELAY
      On the host: accept connections (with a 64 KiB receive buffer); DELAY seconds after the
      first, read each to EOF and answer its SHA-256.
  flood.py put-many DST PORT COUNT SIZE
      In the namespace: COUNT connections at once, each sending SIZE random bytes; checks
      every answer against the SHA-256 of what it sent; prints "intact COUNT".
  flood.py api-probe SOCKET SECONDS OUT
      get_info over the API every 20 ms for SECONDS; writes "P95 SLOWEST COUNT" (times in ms).
Every generator paces itself (a short sleep every 256 packets) and stops after its count.
"""
import json
import os
import random
import resource
import socket
import struct
import sys
import time


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip_header(src, dst, proto, payload_len):
    # The kernel fills in the checksum and total length of an IPPROTO_RAW packet.
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, 0, 0x4000, 64, proto, 0,
                       src, dst)


def spoofed(i):
    return bytes([10, 0, 2, 150 + i % 100])


def tcp_syn(src, dst, sport, dport):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, random.getrandbits(32), 0, 5 << 4, 0x02,
                      64240, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(hdr))
    c = checksum(pseudo + hdr)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:]


def raw_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    return s


def send_paced(s, dst, packets):
    sent = 0
    for pkt in packets:
        while True:
            try:
                s.sendto(pkt, (socket.inet_ntoa(dst), 0))
                break
            except (BlockingIOError, OSError) as e:
                if getattr(e, "errno", None) not in (105, 11):  # ENOBUFS, EAGAIN
                    raise
                time.sleep(0.002)
        sent += 1
        if sent % 256 == 0:
            time.sleep(0.004)
    return sent


def syn(args):
    dst = socket.inet_aton(args[0])
    first, count = int(args[1]), int(args[2])
    extra_port, extra = (int(args[3]), int(args[4])) if len(args) > 4 else (0, 0)

    def gen():
        for i in range(count):
            src = spoofed(i)
            tcp = tcp_syn(src, dst, random.randint(1024, 65535), first + i)
            yield ip_header(src, dst, 6, len(tcp)) + tcp
        for i in range(extra):
            src = spoofed(i)
            tcp = tcp_syn(src, dst, random.randint(1024, 65535), extra_port)
            yield ip_header(src, dst, 6, len(tcp)) + tcp

    t0 = time.monotonic()
    n = send_paced(raw_socket(), dst, gen())
    print("sent %d SYNs in %.1f s" % (n, time.monotonic() - t0))


def udp(args):
    dst = socket.inet_aton(args[0])
    port, flows = int(args[1]), int(args[2])

    def gen():
        for i in range(flows):
            src = spoofed(i)
            sport = 1024 + (i // 100) % 64000
            payload = b"x" * 32
            hdr = struct.pack("!HHHH", sport, port, 8 + len(payload), 0)  # no checksum
            yield ip_header(src, dst, 17, len(hdr) + len(payload)) + hdr + payload

    t0 = time.monotonic()
    n = send_paced(raw_socket(), dst, gen())
    print("sent %d datagrams in %.1f s" % (n, time.monotonic() - t0))


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def listen(args):
    raise_nofile()
    first, count = int(args[0]), int(args[1])
    keep = []
    for p in range(first, first + count):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", p))
        s.listen(1)
        keep.append(s)
    print("ready", flush=True)
    time.sleep(3600)


def stream_server(args):
    port, out = int(args[0]), args[1]
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(1)
    print("ready", flush=True)
    c, _ = ls.accept()
    c.settimeout(0.1)
    total, t0, last = 0, time.monotonic(), 0.0
    with open(out, "a") as f:
        while True:
            try:
                b = c.recv(1 << 20)
                if not b:
                    break
                total += len(b)
            except socket.timeout:
                pass
            now = time.monotonic()
            if now - last >= 0.1:
                f.write("%.2f %d\n" % (now - t0, total))
                f.flush()
                last = now


def stream_client(args):
    dst, port, seconds = args[0], int(args[1]), float(args[2])
    s = socket.create_connection((dst, port), timeout=10)
    buf = b"s" * 65536
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s.sendall(buf)
        time.sleep(0.0015)
    s.close()


def api_probe(args):
    path, seconds, out = args[0], float(args[1]), args[2]
    times = []
    end = time.monotonic() + seconds
    req = json.dumps({"execute": "get_info"}).encode()
    while time.monotonic() < end:
        t0 = time.monotonic()
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(path)
        s.sendall(req)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        s.close()
        json.loads(data)["return"]
        times.append((time.monotonic() - t0) * 1000)
        time.sleep(0.02)
    times.sort()
    with open(out, "w") as f:
        f.write("%.1f %.1f %d\n" % (times[len(times) * 95 // 100], times[-1], len(times)))


def conns(args):
    raise_nofile()
    dst, port, count, hold = args[0], int(args[1]), int(args[2]), float(args[3])
    keep, refused = [], 0
    for _ in range(count):
        s = socket.socket()
        s.settimeout(5)
        try:
            s.connect((dst, port))
            keep.append(s)
        except (ConnectionRefusedError, ConnectionResetError):
            refused += 1
            s.close()
    print("open %d refused %d" % (len(keep), refused), flush=True)
    time.sleep(hold)


def hold_server(args):
    import selectors
    raise_nofile()
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(args[0])))
    ls.listen(4096)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ)
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            if key.fileobj is ls:
                sel.register(ls.accept()[0], selectors.EVENT_READ)
                continue
            try:
                data = key.fileobj.recv(65536)
            except OSError:
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                key.fileobj.close()


def slow_sink(args):
    import hashlib
    import threading
    port, delay = int(args[0]), float(args[1])
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # inherited: little room
    ls.bind(("127.0.0.1", port))
    ls.listen(128)
    print("ready", flush=True)
    start = []

    def serve(c):
        time.sleep(max(0.0, start[0] + delay - time.monotonic()))
        h = hashlib.sha256()
        with c:
            while True:
                b = c.recv(1 << 16)
                if not b:
                    break
                h.update(b)
            c.sendall((h.hexdigest() + "\n").encode())

    while True:
        c, _ = ls.accept()
        if not start:
            start.append(time.monotonic())
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def put_many(args):
    import hashlib
    import threading
    dst, port, count, size = args[0], int(args[1]), int(args[2]), int(args[3])
    bad = []

    def one(i):
        data = random.Random(i).randbytes(size)
        try:
            s = socket.create_connection((dst, port), timeout=60)
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            got = b""
            while True:
                b = s.recv(4096)
                if not b:
                    break
                got += b
            if got.decode().strip() != hashlib.sha256(data).hexdigest():
                bad.append("%d: wrong digest" % i)
        except OSError as e:
            bad.append("%d: %s" % (i, e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if bad:
        sys.exit("put-many: " + "; ".join(bad))
    print("intact %d" % count)


COMMANDS = {"conns": conns, "hold-server": hold_server, "slow-sink": slow_sink,
            "put-many": put_many, "syn": syn, "udp": udp, "listen": listen, "stream-server": stream_server,
            "stream-client": stream_client, "api-probe": api_probe}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](sys.argv[2:])

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Small network peers for the integration tests: echo servers, a DNS server, clients.

Every server writes "ready" to stdout once it listens (tests wait for that line) and logs
each peer address to the file given with --log, so a test can check which source address a
connection arrived from. Nothing here talks to anything but the addresses it is given.
"""
import argparse
import errno
import hashlib
import os
import random
import resource
import selectors
import socket
import struct
import sys
import threading
import time


def read_all(c):
    """Read c to EOF; return "<sha256> <bytes>" of what came."""
    h, n, buf = hashlib.sha256(), 0, bytearray(1 << 20)
    while True:
        got = c.recv_into(buf)
        if not got:
            break
        h.update(memoryview(buf)[:got])
        n += got
    return "%s %d" % (h.hexdigest(), n)


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def log_peer(path, peer):
    if path:
        with open(path, "a") as f:
            f.write(peer[0] + "\n")


def listen_tcp(args):
    """A listening TCP socket on args.addr:args.port; says "ready" (start_ns_helper waits)."""
    s = socket.socket(family_of(args.addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.addr, args.port))
    s.listen(128)
    print("ready", flush=True)
    return s


def tcp_echo(args):
    s = listen_tcp(args)

    def serve(c, peer):
        log_peer(args.log, peer)
        with c:
            while True:
                data = c.recv(65536)
                if not data:
                    break
                c.sendall(data)

    while True:
        c, peer = s.accept()
        threading.Thread(target=serve, args=(c, peer), daemon=True).start()


def udp_echo(args):
    s = socket.socket(family_of(args.addr), socket.SOCK_DGRAM)
    s.bind((args.addr, args.port))
    print("ready", flush=True)
    while True:
        data, peer = s.recvfrom(65536)
        log_peer(args.log, peer)
        s.sendto(data, peer)


def dns_name(data, off):
    labels = []
    while data[off] != 0:
        n = data[off]
        labels.append(data[off + 1:off + 1 + n].decode())
        off += n + 1
    return ".".join(labels).lower(), off + 1


def dns_answer(query, records):
    qid, flags, qd = struct.unpack("!HHH", query[:6])
    name, off = dns_name(query, 12)
    qtype, qclass = struct.unpack("!HH", query[off:off + 4])
    question = query[12:off + 4]
    ip = records.get(name)
    if ip is None or qtype not in (1, 28):
        rcode = 3 if ip is None else 0
        return struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, 0, 0, 0) + question
    if (qtype == 28) != (":" in ip):
        return struct.pack("!HHHHHH", qid, 0x8180, 1, 0, 0, 0) + question
    rdata = socket.inet_pton(family_of(ip), ip)
    answer = b"\xc0\x0c" + struct.pack("!HHIH", qtype, 1, 60, len(rdata)) + rdata
    return struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + answer


def dns(args):
    records = {}
    for r in args.record:
        name, ip = r.split("=", 1)
        records[name.lower()] = ip
    s = socket.socket(family_of(args.addr), socket.SOCK_DGRAM)
    s.bind((args.addr, args.port))
    print("ready", flush=True)
    while True:
        q, peer = s.recvfrom(4096)
        log_peer(args.log, peer)
        try:
            s.sendto(dns_answer(q, records), peer)
        except (IndexError, struct.error, UnicodeDecodeError):
            pass


def tcp_send(args):
    """Connect, send MSG, shut down writing, print what comes back."""
    c = socket.create_connection((args.addr, args.port), timeout=args.timeout)
    c.sendall(args.msg.encode())
    c.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        data = c.recv(65536)
        if not data:
            break
        out += data
    sys.stdout.write(out.decode())


def udp_send(args):
    c = socket.socket(family_of(args.addr), socket.SOCK_DGRAM)
    c.settimeout(args.timeout)
    for _ in range(args.tries):
        c.sendto(args.msg.encode(), (args.addr, args.port))
        try:
            data, _ = c.recvfrom(65536)
            sys.stdout.write(data.decode())
            return
        except socket.timeout:
            continue
    sys.exit("no UDP reply")


def resolve(args):
    """Resolve NAME through the DNS server at SERVER, print the first address."""
    q = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for label in args.name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\x00" + struct.pack("!HH", 28 if args.aaaa else 1, 1)
    c = socket.socket(family_of(args.server), socket.SOCK_DGRAM)
    c.settimeout(args.timeout)
    for _ in range(args.tries):
        c.sendto(q, (args.server, 53))
        try:
            r, _ = c.recvfrom(4096)
        except socket.timeout:
            continue
        ancount = struct.unpack("!H", r[6:8])[0]
        rcode = r[3] & 0xF
        if rcode != 0 or ancount == 0:
            sys.exit("rcode %d, %d answers" % (rcode, ancount))
        _, off = dns_name(r, 12)
        off += 4 + 2  # question type/class, then the compressed name pointer of the answer
        rtype, _, _, rdlen = struct.unpack("!HHIH", r[off:off + 10])
        rdata = r[off + 10:off + 10 + rdlen]
        print(socket.inet_ntop(socket.AF_INET6 if rtype == 28 else socket.AF_INET, rdata))
        return
    sys.exit("no DNS reply")


# --- data integrity: hashing sinks and sources, tiny TCP frames, UDP and ICMP echo checks ---

def hash_sink(args):
    """TCP server: read each connection to EOF, answer "<sha256> <bytes>\\n", close."""
    s = listen_tcp(args)

    def serve(c, peer):
        log_peer(args.log, peer)
        with c:
            digest = read_all(c)
            c.sendall((digest + "\n").encode())

    while True:
        c, peer = s.accept()
        threading.Thread(target=serve, args=(c, peer), daemon=True).start()


def hash_source(args):
    """TCP server: send FILE to each connection, then close it."""
    s = listen_tcp(args)

    def serve(c, peer):
        log_peer(args.log, peer)
        with c, open(args.file, "rb") as f:
            c.sendfile(f)
            c.shutdown(socket.SHUT_WR)
            c.recv(1)  # wait for the client to close, so nothing is lost to a reset

    while True:
        c, peer = s.accept()
        threading.Thread(target=serve, args=(c, peer), daemon=True).start()


def connect(args):
    c = socket.socket(family_of(args.addr), socket.SOCK_STREAM)
    c.settimeout(args.timeout)
    if args.bind:
        c.bind((args.bind, 0))
    c.connect((args.addr, args.port))
    return c


def hash_put(args):
    """Send FILE, shut down writing, print the sink's "<sha256> <bytes>" answer."""
    with connect(args) as c, open(args.file, "rb") as f:
        c.sendfile(f)
        c.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            data = c.recv(4096)
            if not data:
                break
            out += data
    sys.stdout.write(out.decode())


def hash_get(args):
    """Read to EOF from a hash-source, print "<sha256> <bytes>"."""
    with connect(args) as c:
        digest = read_all(c)
    print(digest)


def hash_echo(args):
    """Against a tcp-echo: send FILE while reading the echo back at the same time (both
    directions full), print "<sha256> <bytes>" of what came back."""
    with connect(args) as c, open(args.file, "rb") as f:
        def send():
            c.sendfile(f)
            c.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=send, daemon=True)
        t.start()
        digest = read_all(c)
        t.join()
    print(digest)


def tcp_tiny(args):
    """Against a tcp-echo: COUNT one-byte request/response round trips (TCP_NODELAY, so each
    byte is its own segment), then COUNT one-byte writes in a burst read back as a whole."""
    rnd = random.Random(args.seed)
    with connect(args) as c:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(args.count):
            b = bytes([rnd.randrange(256)])
            c.sendall(b)
            r = c.recv(16)
            if r != b:
                sys.exit("round trip %d: sent %r, echoed %r" % (i, b, r))
        want = rnd.randbytes(args.count)
        for i in range(args.count):
            c.send(want[i:i + 1])
        got = b""
        while len(got) < len(want):
            data = c.recv(65536)
            if not data:
                break
            got += data
        if got != want:
            bad = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]),
                       min(len(got), len(want)))
            sys.exit("burst of %d one-byte writes: got %d bytes back, first difference at %d"
                     % (len(want), len(got), bad))
    print("%d round trips, %d-byte burst ok" % (args.count, args.count))


def parse_sizes(spec):
    """"1-64,100,1472-1474" -> [1..64, 100, 1472, 1473, 1474]"""
    out = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def udp_check(args):
    """Against a udp-echo: one datagram of every size in SIZES (random content, a sequence
    number in the first bytes), each must come back byte for byte. A lost datagram is resent
    (up to TRIES times); an echo that matches nothing sent fails at once."""
    rnd = random.Random(args.seed)
    c = socket.socket(family_of(args.addr), socket.SOCK_DGRAM)
    c.settimeout(args.timeout)
    if args.bind:
        c.bind((args.bind, 0))
    c.connect((args.addr, args.port))
    sizes = parse_sizes(args.sizes)
    sent = set()  # earlier datagrams: their late echoes (after a resend) are not errors
    resent = 0
    for seq, size in enumerate(sizes):
        msg = (struct.pack("!I", seq) + rnd.randbytes(max(size - 4, 0)))[:size]
        for attempt in range(args.tries):
            c.send(msg)
            try:
                while True:
                    r = c.recv(65536)
                    if r == msg:
                        break
                    if r in sent:
                        continue
                    bad = next((i for i in range(min(len(r), size)) if r[i] != msg[i]),
                               min(len(r), size))
                    sys.exit("%d-byte datagram echoed as %d bytes, first difference at %d"
                             % (size, len(r), bad))
                break
            except socket.timeout:
                resent += 1
        else:
            sys.exit("%d-byte datagram: no echo after %d tries" % (size, args.tries))
        sent.add(msg)
    print("%d datagrams of %d..%d bytes ok (%d bytes), %d resent"
          % (len(sizes), min(sizes), max(sizes), sum(sizes), resent))


def icmp_checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s >> 16) + (s & 0xffff)
    return ~s & 0xffff


def ping_check(args):
    """ICMP echo (raw socket, IPv4) with payloads of every size in SIZES: each reply must carry
    the request's identifier, sequence and payload byte for byte."""
    rnd = random.Random(args.seed)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(args.timeout)
    ident = rnd.randrange(1, 65536)
    sizes = parse_sizes(args.sizes)
    for seq, size in enumerate(sizes, 1):
        payload = rnd.randbytes(size)
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        pkt = struct.pack("!BBHHH", 8, 0, icmp_checksum(hdr + payload), ident, seq) + payload
        for attempt in range(args.tries):
            s.sendto(pkt, (args.addr, 0))
            try:
                while True:
                    r, _ = s.recvfrom(70000)
                    ihl = (r[0] & 0x0f) * 4
                    icmp = r[ihl:]
                    if len(icmp) < 8 or icmp[0] != 0:
                        continue
                    rid, rseq = struct.unpack("!HH", icmp[4:8])
                    if rid != ident or rseq != seq:
                        continue
                    if icmp[8:] != payload:
                        sys.exit("ICMP echo with %d bytes: reply has %d bytes of wrong payload"
                                 % (size, len(icmp) - 8))
                    if icmp_checksum(icmp) != 0:
                        sys.exit("ICMP echo with %d bytes: bad checksum in the reply" % size)
                    break
                break
            except socket.timeout:
                continue
        else:
            sys.exit("ICMP echo with %d bytes: no reply after %d tries" % (size, args.tries))
    print("%d echoes of %d..%d bytes ok" % (len(sizes), min(sizes), max(sizes)))


# --- many connections at once, closes and resets (port forwards' fast path) ---

def raise_nofile():
    """Thousands of sockets at once: the soft fd limit up to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


def tcp_echo_events(args):
    """TCP echo server in one thread (no thread per connection) with a SOMAXCONN backlog, for
    thousands of connections at once. Echoes until the peer shuts down writing, then closes."""
    raise_nofile()
    s = socket.socket(family_of(args.addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.addr, args.port))
    s.listen(socket.SOMAXCONN)
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ, None)
    log = open(args.log, "a", buffering=1) if args.log else None
    print("ready", flush=True)

    def drop(c):
        sel.unregister(c)
        c.close()

    while True:
        for key, mask in sel.select():
            if key.data is None:
                while True:
                    try:
                        c, peer = s.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    if log:
                        log.write(peer[0] + "\n")
                    c.setblocking(False)
                    sel.register(c, selectors.EVENT_READ, {"pend": bytearray(), "eof": False})
                continue
            c, st = key.fileobj, key.data
            pend = st["pend"]
            try:
                if mask & selectors.EVENT_READ and not st["eof"] and len(pend) < (1 << 20):
                    data = c.recv(65536)
                    if data:
                        pend += data
                    else:
                        st["eof"] = True  # the rest of the echo first, then close
                if pend:
                    del pend[:c.send(pend)]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                drop(c)
                continue
            if st["eof"] and not pend:
                drop(c)
                continue
            sel.modify(c, (0 if st["eof"] else selectors.EVENT_READ) |
                       (selectors.EVENT_WRITE if pend else 0), st)


def tcp_many(args):
    """Against an echo server: COUNT connections open at once. Each sends SIZE bytes of its own
    (its index first) and waits for all of them to come back; once every connection has its
    echo (all COUNT established end to end at the same time) it prints "held COUNT" and, with
    --hold FILE, waits until FILE exists. Then each shuts down writing and must see a clean EOF
    with nothing more. Any connection refused, reset, short, wrong or late (--timeout for the
    whole run) fails, naming the connection."""
    raise_nofile()
    rnd = random.Random(args.seed)
    sel = selectors.DefaultSelector()
    start = time.monotonic()
    deadline = start + args.timeout

    def remaining(what, done, total):
        left = deadline - time.monotonic()
        if left <= 0:
            sys.exit("%s: only %d of %d after %.1f s" % (what, done, total, args.timeout))
        return left

    conns = []
    for i in range(args.count):
        s = socket.socket(family_of(args.addr), socket.SOCK_STREAM)
        s.setblocking(False)
        if args.bind:
            s.bind((args.bind, 0))
        err = s.connect_ex((args.addr, args.port))
        if err not in (0, errno.EINPROGRESS):
            sys.exit("connection %d: connect: %s" % (i, os.strerror(err)))
        c = {"i": i, "s": s, "sent": 0, "got": bytearray(),
             "out": (struct.pack("!I", i) + rnd.randbytes(max(args.size - 4, 0)))[:args.size]}
        conns.append(c)
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
    echoed = 0
    while echoed < args.count:
        for key, mask in sel.select(remaining("echoed", echoed, args.count)):
            c = key.data
            s, out = c["s"], c["out"]
            try:
                if mask & selectors.EVENT_WRITE and c["sent"] < len(out):
                    c["sent"] += s.send(out[c["sent"]:])
                    if c["sent"] == len(out):
                        sel.modify(s, selectors.EVENT_READ, c)
                if mask & selectors.EVENT_READ:
                    data = s.recv(65536)
                    if not data:
                        sys.exit("connection %d: closed after %d of %d echoed bytes"
                                 % (c["i"], len(c["got"]), len(out)))
                    c["got"] += data
                    if c["got"] != out[:len(c["got"])]:
                        sys.exit("connection %d: wrong bytes echoed (another connection's?)"
                                 % c["i"])
                    if len(c["got"]) == len(out):
                        echoed += 1
                        sel.unregister(s)
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as e:
                sys.exit("connection %d: %s" % (c["i"], e))
    opened = time.monotonic() - start
    print("held %d" % args.count, flush=True)
    if args.hold:
        while not os.path.exists(args.hold):
            remaining("held, waiting for " + args.hold, echoed, args.count)
            time.sleep(0.02)
    closing = time.monotonic()
    for c in conns:
        c["s"].shutdown(socket.SHUT_WR)
        sel.register(c["s"], selectors.EVENT_READ, c)
    closed = 0
    while closed < args.count:
        for key, _ in sel.select(remaining("closed cleanly", closed, args.count)):
            c = key.data
            try:
                data = c["s"].recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                sys.exit("connection %d: %s instead of EOF after shutdown" % (c["i"], e))
            if data:
                sys.exit("connection %d: %d more bytes after the echo" % (c["i"], len(data)))
            sel.unregister(c["s"])
            c["s"].close()
            closed += 1
    print("%d connections of %d bytes each way: open at once and echoed in %.2f s, closed "
          "cleanly in %.2f s" % (args.count, args.size, opened, time.monotonic() - closing))


def tcp_outcome(args):
    """TCP server: greet each connection with "hi\\n", read it until EOF or an error, then log
    "<peer> eof <bytes>" or "<peer> reset <bytes>" to --log. With --rst, reset each connection
    (SO_LINGER 0, close) when its first data arrives, logging "<peer> sent-reset <bytes>"."""
    s = listen_tcp(args)

    def serve(c, peer):
        n, how = 0, "eof"
        try:
            c.sendall(b"hi\n")
            while True:
                data = c.recv(65536)
                if not data:
                    break
                n += len(data)
                if args.rst:
                    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    how = "sent-reset"
                    break
        except ConnectionResetError:
            how = "reset"
        c.close()
        if args.log:
            with open(args.log, "a") as f:
                f.write("%s %s %d\n" % (peer[0], how, n))

    while True:
        c, peer = s.accept()
        threading.Thread(target=serve, args=(c, peer), daemon=True).start()


def tcp_greet(args):
    """TCP server that closes first: each connection gets "hi\n" and then our FIN, so this
    side of it stays in TIME_WAIT."""
    s = listen_tcp(args)
    while True:
        c, _ = s.accept()
        with c:
            c.sendall(b"hi\n")


def tcp_reuse(args):
    """Connect --count times from one source address and port (--bind, the port picked by the
    first connection), reading a tcp-greet server's "hi\n" and its FIN each time: every later
    SYN meets the server's TIME_WAIT of the one before. Fails on the first connection that
    does not complete within --timeout; prints the slowest time."""
    port, slowest = 0, 0.0
    for i in range(args.count):
        c = socket.socket(family_of(args.addr), socket.SOCK_STREAM)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        c.settimeout(args.timeout)
        c.bind((args.bind, port))
        port = c.getsockname()[1]
        t0 = time.monotonic()
        try:
            c.connect((args.addr, args.port))
            got = b""
            while True:
                b = c.recv(64)
                if not b:
                    break
                got += b
        except OSError as e:
            sys.exit("connection %d from port %d: %s after %.2f s" %
                     (i, port, e, time.monotonic() - t0))
        c.close()
        if got != b"hi\n":
            sys.exit("connection %d from port %d: read %r" % (i, port, got))
        slowest = max(slowest, time.monotonic() - t0)
    print("%d connections from port %d, slowest %.3f s" % (args.count, port, slowest))


def tcp_close_check(args):
    """Connect; with --greeting read a tcp-outcome server's "hi\\n"; with --send, send MSG.
    Then with --rst reset the connection (SO_LINGER 0, close) and print "reset-sent";
    otherwise read until the peer closes and print how ("eof" or "reset"), the bytes received
    and the milliseconds since connect() was called (a reset that beats connect() counts).
    Exits 1 if nothing happens within --timeout."""
    t0 = time.monotonic()
    n, how = 0, "eof"
    try:
        c = connect(args)
        if args.greeting:
            got = b""
            while not got.endswith(b"\n"):
                data = c.recv(16)
                if not data:
                    sys.exit("closed before the greeting (%r)" % got)
                got += data
            if got != b"hi\n":
                sys.exit("greeting %r" % got)
        if args.send:
            c.sendall(args.send.encode())
        if args.rst:
            time.sleep(0.2)  # let the bytes reach the server before the reset
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
            print("reset-sent")
            return
        while True:
            data = c.recv(65536)
            if not data:
                break
            n += len(data)
    except (ConnectionResetError, BrokenPipeError):
        how = "reset"
    except socket.timeout:
        sys.exit("still open after %.1f s (%d bytes received)" % (args.timeout, n))
    print("%s %d %d" % (how, n, (time.monotonic() - t0) * 1000))


def stall_get(args):
    """Connect to a hash-source, read nothing for STALL seconds (the sender fills every buffer
    on the way and must stop), then read to EOF; print "<sha256> <bytes>". With --half-close,
    shut down writing first (the server may then finish and close while we still stall)."""
    with connect(args) as c:
        if args.half_close:
            c.shutdown(socket.SHUT_WR)
        time.sleep(args.stall)
        digest = read_all(c)
    print(digest)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("tcp-echo", "udp-echo", "dns"):
        sp = sub.add_parser(name)
        sp.add_argument("addr")
        sp.add_argument("port", type=int)
        sp.add_argument("--log")
        if name == "dns":
            sp.add_argument("--record", action="append", default=[])
    for name in ("tcp-send", "udp-send"):
        sp = sub.add_parser(name)
        sp.add_argument("addr")
        sp.add_argument("port", type=int)
        sp.add_argument("msg")
        sp.add_argument("--timeout", type=float, default=5)
        sp.add_argument("--tries", type=int, default=5)
    sp = sub.add_parser("resolve")
    sp.add_argument("server")
    sp.add_argument("name")
    sp.add_argument("--aaaa", action="store_true")
    sp.add_argument("--timeout", type=float, default=2)
    sp.add_argument("--tries", type=int, default=3)
    for name in ("hash-sink", "hash-source"):
        sp = sub.add_parser(name)
        sp.add_argument("addr")
        sp.add_argument("port", type=int)
        if name == "hash-source":
            sp.add_argument("file")
        sp.add_argument("--log")
    for name in ("hash-put", "hash-get", "hash-echo", "tcp-tiny", "udp-check"):
        sp = sub.add_parser(name)
        sp.add_argument("addr")
        sp.add_argument("port", type=int)
        if name in ("hash-put", "hash-echo"):
            sp.add_argument("file")
        sp.add_argument("--bind", help="source address")
        sp.add_argument("--timeout", type=float,
                        default=30 if name.startswith("hash") else 1 if name == "udp-check" else 5)
        if name == "tcp-tiny":
            sp.add_argument("--count", type=int, default=500)
        if name == "udp-check":
            sp.add_argument("--sizes", default="1-64,1000,1472-1474,8000")
            sp.add_argument("--tries", type=int, default=5)
        sp.add_argument("--seed", type=int, default=1)
    sp = sub.add_parser("ping-check")
    sp.add_argument("addr")
    sp.add_argument("--sizes", default="0-64,1472-1473,8000")
    sp.add_argument("--timeout", type=float, default=1)
    sp.add_argument("--tries", type=int, default=5)
    sp.add_argument("--seed", type=int, default=1)
    sp = sub.add_parser("tcp-echo-events")
    sp.add_argument("addr")
    sp.add_argument("port", type=int)
    sp.add_argument("--log")
    sp = sub.add_parser("tcp-greet")
    sp.add_argument("addr")
    sp.add_argument("port", type=int)
    sp = sub.add_parser("tcp-reuse")
    sp.add_argument("addr")
    sp.add_argument("port", type=int)
    sp.add_argument("--bind", required=True)
    sp.add_argument("--count", type=int, default=20)
    sp.add_argument("--timeout", type=float, default=1.5)
    sp = sub.add_parser("tcp-outcome")
    sp.add_argument("addr")
    sp.add_argument("port", type=int)
    sp.add_argument("--log")
    sp.add_argument("--rst", action="store_true")
    for name in ("tcp-many", "tcp-close-check", "stall-get"):
        sp = sub.add_parser(name)
        sp.add_argument("addr")
        sp.add_argument("port", type=int)
        sp.add_argument("--bind", help="source address")
        sp.add_argument("--timeout", type=float, default=60 if name == "tcp-many" else 10)
        if name == "tcp-many":
            sp.add_argument("--count", type=int, default=500)
            sp.add_argument("--size", type=int, default=1000)
            sp.add_argument("--hold", help="once all are echoed, wait for this file to exist")
            sp.add_argument("--seed", type=int, default=1)
        if name == "tcp-close-check":
            sp.add_argument("--greeting", action="store_true")
            sp.add_argument("--send")
            sp.add_argument("--rst", action="store_true")
        if name == "stall-get":
            sp.add_argument("--stall", type=float, default=2)
            sp.add_argument("--half-close", action="store_true")
    args = p.parse_args()
    {"hash-sink": hash_sink, "hash-source": hash_source, "hash-put": hash_put,
     "hash-get": hash_get, "hash-echo": hash_echo, "tcp-tiny": tcp_tiny, "udp-check": udp_check,
     "ping-check": ping_check,
     "tcp-echo-events": tcp_echo_events, "tcp-many": tcp_many, "tcp-outcome": tcp_outcome,
     "tcp-close-check": tcp_close_check, "tcp-greet": tcp_greet, "tcp-reuse": tcp_reuse, "stall-get": stall_get,
     "tcp-echo": tcp_echo, "udp-echo": udp_echo, "dns": dns, "tcp-send": tcp_send,
     "udp-send": udp_send, "resolve": resolve}[args.cmd](args)


if __name__ == "__main__":
    main()

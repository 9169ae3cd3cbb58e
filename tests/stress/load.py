#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Load generator for the stress tests (tests/stress/run.sh, tests/integration/stress_quick.sh).

Single-threaded and non-blocking (selectors), so one process holds thousands of connections.
Every client command prints one line of figures and exits non-zero if anything failed; every
server prints "ready" once it listens. Nothing here talks to any address but the one given,
and every loop is bounded by a count and a deadline.

  server ADDR PORT          echo server: returns every byte it gets, closes after the peer
  sink ADDR PORT            reads each connection to EOF, answers "<bytes>\\n", closes
  hold ADDR PORT N          opens N connections at once, each sends SIZE bytes and reads them
                            back; once all N have, reports them held; then closes them all
  churn ADDR PORT N         N short connections (connect, request, response, close), at most
                            PARALLEL at a time, within DEADLINE seconds
  transfer ADDR PORT BYTES  sends BYTES to a sink, prints MB/s (end to end: the sink's count)
  api-abuse SOCKET          hostile API clients (see api_abuse below)
"""
import argparse
import errno
import json
import os
import random
import selectors
import socket
import sys
import time


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def listen(addr, port):
    s = socket.socket(family_of(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(4096)
    s.setblocking(False)
    return s


def serve(args, sink):
    """Echo (or count) for any number of connections, until killed."""
    ls = listen(args.addr, args.port)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, None)
    state = {}  # socket -> [pending output, bytes counted]
    print("ready", flush=True)
    while True:
        for key, ev in sel.select():
            s = key.fileobj
            if s is ls:
                for _ in range(256):
                    try:
                        c, _ = ls.accept()
                    except BlockingIOError:
                        break
                    c.setblocking(False)
                    state[c] = [b"", 0, False]
                    sel.register(c, selectors.EVENT_READ, None)
                continue
            st = state[s]  # [output pending, bytes counted, closing]
            if ev & selectors.EVENT_READ and not st[2]:
                try:
                    data = s.recv(262144)
                except (BlockingIOError, InterruptedError):
                    data = None
                except OSError:
                    data, st[0] = b"", b""
                if data == b"":
                    st[2] = True
                    if sink:
                        st[0] += b"%d\n" % st[1]
                elif data:
                    if sink:
                        st[1] += len(data)
                    else:
                        st[0] += data
            if st[0]:
                try:
                    n = s.send(st[0])
                    st[0] = st[0][n:]
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    st[0], st[2] = b"", True
            if st[2] and not st[0]:
                sel.unregister(s)
                del state[s]
                s.close()
            else:
                sel.modify(s, (0 if st[2] else selectors.EVENT_READ) |
                           (selectors.EVENT_WRITE if st[0] else 0), None)


class Conn:
    __slots__ = ("sock", "want", "sent", "got", "state", "t0")


def open_conn(addr, port):
    c = Conn()
    c.sock = socket.socket(family_of(addr), socket.SOCK_STREAM)
    c.sock.setblocking(False)
    c.t0 = time.monotonic()
    err = c.sock.connect_ex((addr, port))
    if err not in (0, errno.EINPROGRESS):
        c.sock.close()
        raise OSError(err, os.strerror(err))
    c.state = "connecting"
    c.sent = 0
    c.got = b""
    return c


def step(c, ev):
    """Advance one client: connect, send c.want, read it back. True when it has all back."""
    if c.state == "connecting":
        err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, os.strerror(err))
        c.state = "talking"
    if c.sent < len(c.want):
        try:
            c.sent += c.sock.send(c.want[c.sent:])
        except (BlockingIOError, InterruptedError):
            pass
    if ev & selectors.EVENT_READ:
        try:
            data = c.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            data = None
        if data == b"":
            raise OSError("closed by the peer after %d of %d bytes" % (len(c.got), len(c.want)))
        if data:
            c.got += data
    if len(c.got) >= len(c.want):
        if c.got != c.want:
            raise OSError("echo differs")
        return True
    return False


def events(c):
    if c.state == "connecting":
        return selectors.EVENT_WRITE
    return selectors.EVENT_READ | (selectors.EVENT_WRITE if c.sent < len(c.want) else 0)


def hold(args):
    """N connections open at the same time, each having exchanged SIZE bytes."""
    sel = selectors.DefaultSelector()
    deadline = time.monotonic() + args.timeout
    start = time.monotonic()
    pending, done, failed, errors = 0, [], 0, {}
    to_open = args.n
    rnd = random.Random(args.n)
    while (to_open or pending) and time.monotonic() < deadline:
        while to_open and pending < args.batch:
            try:
                c = open_conn(args.addr, args.port)
            except OSError as e:
                failed += 1
                errors[str(e)] = errors.get(str(e), 0) + 1
                to_open -= 1
                continue
            c.want = rnd.randbytes(args.size)
            sel.register(c.sock, events(c), c)
            pending += 1
            to_open -= 1
        for key, ev in sel.select(timeout=0.5):
            c = key.data
            try:
                finished = step(c, ev)
            except OSError as e:
                failed += 1
                errors[str(e)] = errors.get(str(e), 0) + 1
                sel.unregister(c.sock)
                c.sock.close()
                pending -= 1
                continue
            if finished:
                sel.unregister(c.sock)
                done.append(c)
                pending -= 1
            else:
                sel.modify(c.sock, events(c), c)
    failed += pending + to_open
    if pending:
        errors["timed out"] = pending
    elapsed = time.monotonic() - start
    if args.hold_file:
        with open(args.hold_file, "w") as f:
            f.write("%d\n" % len(done))
    # Everything that succeeded is still open here: the moment the figures are about.
    if args.pause:
        time.sleep(args.pause)
    still = sum(1 for c in done if still_open(c.sock))
    for c in done:
        c.sock.close()
    print("hold: %d connections held open at once (%d still open after %.1fs), %d failed, "
          "%d bytes each way per connection, %.1fs%s" %
          (len(done), still, args.pause, failed, args.size, elapsed,
           (" errors: %s" % errors) if errors else ""), flush=True)
    sys.exit(0 if failed == 0 and len(done) == args.n and still == len(done) else 1)


def still_open(s):
    try:
        return s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def churn(args):
    """N short request/response connections, PARALLEL at a time."""
    sel = selectors.DefaultSelector()
    start = time.monotonic()
    deadline = start + args.deadline
    active, ok, failed, started, errors = 0, 0, 0, 0, {}
    req = b"GET /churn HTTP/1.0\r\n\r\n"
    while (started < args.n or active) and time.monotonic() < deadline:
        while started < args.n and active < args.parallel:
            started += 1
            try:
                c = open_conn(args.addr, args.port)
            except OSError as e:
                failed += 1
                errors[str(e)] = errors.get(str(e), 0) + 1
                continue
            c.want = req
            sel.register(c.sock, events(c), c)
            active += 1
        for key, ev in sel.select(timeout=0.5):
            c = key.data
            try:
                finished = step(c, ev)
            except OSError as e:
                finished = None
                failed += 1
                errors[str(e)] = errors.get(str(e), 0) + 1
            if finished is False:
                sel.modify(c.sock, events(c), c)
                continue
            sel.unregister(c.sock)
            c.sock.close()
            active -= 1
            ok += finished is True
    failed += active + (args.n - started)
    elapsed = time.monotonic() - start
    print("churn: %d connections ok, %d failed in %.1fs (%.0f/s, %d at a time)%s" %
          (ok, failed, elapsed, ok / elapsed if elapsed else 0, args.parallel,
           (" errors: %s" % errors) if errors else ""), flush=True)
    sys.exit(0 if ok == args.n else 1)


def transfer(args):
    """BYTES to a sink; the time until the sink's count comes back."""
    s = socket.create_connection((args.addr, args.port), timeout=args.timeout)
    buf = b"\0" * (1 << 20)
    start = time.monotonic()
    left = args.bytes
    while left:
        n = s.send(buf[:min(left, len(buf))])
        left -= n
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        data = s.recv(4096)
        if not data:
            break
        out += data
    elapsed = time.monotonic() - start
    got = int(out.strip() or b"-1")
    mbps = args.bytes / elapsed / 1e6
    print("transfer: %d bytes in %.3fs: %.1f MB/s" % (got, elapsed, mbps), flush=True)
    if args.result:
        with open(args.result, "a") as f:
            f.write("%.1f\n" % mbps)
    sys.exit(0 if got == args.bytes else 1)


# --- API abuse ---------------------------------------------------------------------------

def api_exchange(path, data, timeout, shut=True):
    """Send data, read until the daemon closes; the answer (b"" if closed without one)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(path)
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError):
        pass
    out = b""
    while True:
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            break
        if not d:
            break
        out += d
    s.close()
    return out


def check_answer(what, out, failures):
    """An answer must be one JSON object with "error" or "return"; no answer (a close) is
    acceptable only where a timeout close is."""
    try:
        j = json.loads(out.decode("utf-8"))
        if not isinstance(j, dict) or ("error" in j) == ("return" in j):
            raise ValueError("neither error nor return")
        return "error" if "error" in j else "return"
    except (ValueError, UnicodeDecodeError) as e:
        failures.append("%s: bad answer %r (%s)" % (what, out[:200], e))
        return None


WRONG = [None, True, 1, -1, 1.5, 1e300, "x", "", [], {}, [1], {"a": 1}, 2 ** 63, -2 ** 63,
         "tcp\u0000", "\u00e9" * 3]
COMMANDS = {
    "add_hostfwd": ["proto", "host_addr", "host_port", "guest_addr", "guest_port"],
    "list_hostfwd": [],
    "remove_hostfwd": ["id"],
    "get_info": [],
    "list_connections": [],
}


def could_be_valid(field, v):
    """Whether v has the right JSON type and range for field (then it is no wrong type)."""
    if field in ("host_port", "guest_port", "id"):
        return type(v) is int and 1 <= v <= 65535
    if field in ("host_addr", "guest_addr"):
        return v == ""  # the default address
    return False


def wrong_type_requests():
    """Every command with arguments of the wrong type, and with each field wrong in turn."""
    good = {"proto": "tcp", "host_addr": "127.0.0.1", "host_port": 0, "guest_addr": "",
            "guest_port": 9}
    for cmd, fields in COMMANDS.items():
        for bad in WRONG:
            yield {"execute": cmd, "arguments": bad}
        for f in fields:
            for bad in WRONG:
                if could_be_valid(f, bad):
                    continue
                args = dict(good) if cmd == "add_hostfwd" else {}
                args[f] = bad
                yield {"execute": cmd, "arguments": args}
    for bad in WRONG:
        yield {"execute": bad}


def api_abuse(args):
    """Hostile API clients, one kind after the other; every one must get an error (or, for
    the silent ones, a close after the daemon's client timeout), the daemon must live."""
    path = args.socket
    failures = []
    figures = []
    # 1. Many concurrent clients, all connected before any sends; all must be answered.
    socks = []
    for _ in range(args.clients):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(20)
        s.connect(path)
        socks.append(s)
    t0 = time.monotonic()
    for i, s in enumerate(socks):
        req = [b'{"execute":"list_hostfwd"}', b'{"execute":"get_info"}',
               b'{"execute":"list_connections"}', b'{"execute":"nope"}'][i % 4]
        s.sendall(req)
    answered = 0
    for i, s in enumerate(socks):
        out = b""
        while True:
            try:
                d = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not d:
                break
            out += d
        s.close()
        if check_answer("concurrent client %d" % i, out, failures):
            answered += 1
    figures.append("%d/%d concurrent clients answered in %.2fs" %
                   (answered, args.clients, time.monotonic() - t0))

    # 2. Silent clients: connected, never a byte; the daemon closes them after its timeout.
    silent = []
    for _ in range(args.silent):
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        s.settimeout(args.silent_wait)
        silent.append(s)
    # ... meanwhile other clients are answered at once.
    t1 = time.monotonic()
    kind = check_answer("client beside silent ones",
                        api_exchange(path, b'{"execute":"get_info"}', 5), failures)
    if kind != "return":
        failures.append("get_info beside silent clients: %s" % kind)
    lat = time.monotonic() - t1
    closed, ages = 0, []
    for s in silent:
        try:
            d = s.recv(1)
            if d == b"":
                closed += 1
                ages.append(time.monotonic() - t1)
            else:
                failures.append("a silent client got bytes: %r" % d)
        except ConnectionResetError:
            closed += 1
            ages.append(time.monotonic() - t1)
        except socket.timeout:
            pass
        s.close()
    if closed != len(silent):
        failures.append("%d of %d silent clients were not closed within %.0fs" %
                        (len(silent) - closed, len(silent), args.silent_wait))
    figures.append("%d silent clients closed after %.1f-%.1fs (get_info beside them: %.0f ms)"
                   % (closed, min(ages or [0]), max(ages or [0]), lat * 1000))

    # 3. Garbage, nesting, bad UTF-8, oversize.
    rnd = random.Random(8)
    cases = [
        ("1 MiB of garbage", rnd.randbytes(1 << 20)),
        ("1 MiB of '{'", b"{" * (1 << 20)),
        ("nested arrays, depth 20000",
         b'{"execute":"get_info","arguments":{"a":' + b"[" * 20000 + b"]" * 20000 + b"}}"),
        ("nested objects, depth 5000",
         b'{"execute":"get_info","arguments":' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}"),
        ("invalid UTF-8 in a string", b'{"execute":"get_info\xff\xfe"}'),
        ("invalid UTF-8 as a key", b'{"\xc3\x28":1,"execute":"get_info"}'),
        ("overlong UTF-8", b'{"execute":"\xc0\xafget_info"}'),
        ("a lone surrogate escape", b'{"execute":"\\ud800"}'),
        ("NUL bytes", b'{"execute":"get_info"\x00}'),
        ("an empty request", b""),
        ("a JSON array", b'[{"execute":"get_info"}]'),
        ("64 KiB + 1 of white space", b" " * 65537 + b'{"execute":"get_info"}'),
        ("a huge number", b'{"execute":"remove_hostfwd","arguments":{"id":' + b"9" * 5000 +
         b"}}"),
    ]
    for what, data in cases:
        try:
            out = api_exchange(path, data, 10)
        except (socket.timeout, OSError) as e:
            failures.append("%s: %s" % (what, e))
            continue
        if what == "an empty request" and out == b"":
            continue  # closed without an answer: nothing was asked
        check_answer(what, out, failures)
    figures.append("%d malformed requests answered with errors" % len(cases))

    # 4. Every command with wrong types.
    n = 0
    for req in wrong_type_requests():
        n += 1
        out = api_exchange(path, json.dumps(req).encode(), 10)
        kind = check_answer("wrong types %s" % json.dumps(req)[:120], out, failures)
        if kind == "return" and req.get("execute") in ("add_hostfwd", "remove_hostfwd"):
            failures.append("wrong types accepted: %s -> %r" % (json.dumps(req), out))
    figures.append("%d requests with wrong types answered" % n)

    # 5. Concurrent abuse: many clients at once, each sending garbage.
    socks = []
    for i in range(args.clients):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(20)
        s.connect(path)
        socks.append(s)
    for i, s in enumerate(socks):
        try:
            s.sendall(rnd.randbytes(rnd.randrange(1, 3000)))
            s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
    for i, s in enumerate(socks):
        out = b""
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
        except (socket.timeout, ConnectionResetError):
            pass
        s.close()
        check_answer("concurrent garbage %d" % i, out, failures)
    figures.append("%d concurrent garbage clients answered" % args.clients)

    # The daemon still answers.
    kind = check_answer("final get_info", api_exchange(path, b'{"execute":"get_info"}', 5),
                        failures)
    if kind != "return":
        failures.append("final get_info: %s" % kind)
    print("api-abuse: " + "; ".join(figures), flush=True)
    for f in failures[:20]:
        print("api-abuse FAIL: " + f, flush=True)
    sys.exit(1 if failures else 0)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("server", "sink"):
        sp = sub.add_parser(name)
        sp.add_argument("addr")
        sp.add_argument("port", type=int)
    sp = sub.add_parser("hold")
    sp.add_argument("addr")
    sp.add_argument("port", type=int)
    sp.add_argument("n", type=int)
    sp.add_argument("--size", type=int, default=1000)
    sp.add_argument("--batch", type=int, default=256, help="connects in flight at once")
    sp.add_argument("--timeout", type=float, default=120)
    sp.add_argument("--pause", type=float, default=1.0,
                    help="seconds to keep them all open before closing")
    sp.add_argument("--hold-file", help="write the number held here while holding")
    sp = sub.add_parser("churn")
    sp.add_argument("addr")
    sp.add_argument("port", type=int)
    sp.add_argument("n", type=int)
    sp.add_argument("--parallel", type=int, default=64)
    sp.add_argument("--deadline", type=float, default=120)
    sp = sub.add_parser("transfer")
    sp.add_argument("addr")
    sp.add_argument("port", type=int)
    sp.add_argument("bytes", type=int)
    sp.add_argument("--timeout", type=float, default=60)
    sp.add_argument("--result", help="append the MB/s figure to this file")
    sp = sub.add_parser("api-abuse")
    sp.add_argument("socket")
    sp.add_argument("--clients", type=int, default=200)
    sp.add_argument("--silent", type=int, default=50)
    sp.add_argument("--silent-wait", type=float, default=12)
    args = p.parse_args()
    if args.cmd == "server":
        serve(args, False)
    elif args.cmd == "sink":
        serve(args, True)
    else:
        {"hold": hold, "churn": churn, "transfer": transfer, "api-abuse": api_abuse}[args.cmd](
            args)


if __name__ == "__main__":
    main()

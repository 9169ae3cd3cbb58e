#!/usr/bin/env python3
"""Small network peers for the integration tests: echo servers, a DNS server, clients.

Every server writes "ready" to stdout once it listens (tests wait for that line) and logs
each peer address to the file given with --log, so a test can check which source address a
connection arrived from. Nothing here talks to anything but the addresses it is given.
"""
import argparse
import socket
import struct
import sys
import threading


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def log_peer(path, peer):
    if path:
        with open(path, "a") as f:
            f.write(peer[0] + "\n")


def tcp_echo(args):
    s = socket.socket(family_of(args.addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.addr, args.port))
    s.listen(128)
    print("ready", flush=True)

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
    args = p.parse_args()
    {"tcp-echo": tcp_echo, "udp-echo": udp_echo, "dns": dns, "tcp-send": tcp_send,
     "udp-send": udp_send, "resolve": resolve}[args.cmd](args)


if __name__ == "__main__":
    main()

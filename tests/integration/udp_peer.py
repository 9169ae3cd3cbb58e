#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""udp_peer.py - UDP peers for tests/integration/udp_endpoint.sh.

  udp_peer.py echo ADDR PORT
      Echo every datagram back to its sender; prints "ready".
  udp_peer.py transfer ADDR PORT SIZE TOTAL_MIB [BIND]   (SIZE "mixed": sizes 60-3000 in turn)
      Against an echo: TOTAL_MIB of SIZE-byte datagrams, each numbered and filled with bytes
      derived from its number, up to 64 in flight; every echo must come back byte for byte
      (a lost datagram is sent again, at most 20 times). Prints "ok N datagrams, R resent,
      S.s s" or exits 1 naming the first wrong datagram.
  udp_peer.py refused ADDR PORT
      A connected socket sends to a port nobody listens on; the next recv must fail with
      ECONNREFUSED within 2 s. Prints "refused in N ms".
  udp_peer.py flows ADDR PORT COUNT
      COUNT datagrams to an echo, each from a socket of its own (COUNT flows), all answered,
      then closes them. Prints "flows COUNT".
  udp_peer.py spray ADDR PORT COUNT
      One datagram from each of COUNT sockets (1 ms apart), answers not awaited.
"""
import errno
import hashlib
import socket
import struct
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def echo(args):
    s = socket.socket(family(args[0]), socket.SOCK_DGRAM)
    s.bind((args[0], int(args[1])))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    print("ready", flush=True)
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(data, peer)


def payload(seq, size):
    head = struct.pack("!I", seq)
    seed = hashlib.sha256(head).digest()
    body = (seed * (size // len(seed) + 1))[: size - 4]
    return head + body


# "mixed": runs of equal datagrams broken by shorter and longer ones, so a sender's batch
# holds both what can go out as one segmented send and what cannot.
MIXED = [1400, 1400, 1400, 900, 1400, 1400, 60, 1400, 3000, 1400, 1400, 1400]


def size_of(size, seq):
    return MIXED[seq % len(MIXED)] if size == "mixed" else int(size)


def transfer(args):
    addr, port, size, total = args[0], int(args[1]), args[2], float(args[3])
    count = int(total * (1 << 20)) // (1400 if size == "mixed" else int(size))
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    if len(args) > 4:
        s.bind((args[4], 0))
    s.connect((addr, port))
    s.settimeout(0.2)
    pending = {}  # seq -> (sent at, tries)
    nxt, done, resent = 0, 0, 0
    t0 = time.monotonic()
    while done < count:
        while nxt < count and len(pending) < 64:
            s.send(payload(nxt, size_of(size, nxt)))
            pending[nxt] = (time.monotonic(), 1)
            nxt += 1
        try:
            data = s.recv(65535)
        except socket.timeout:
            data = None
        if data is not None:
            if len(data) < 4:
                sys.exit("transfer: a %d-byte echo" % len(data))
            seq = struct.unpack("!I", data[:4])[0]
            if seq >= count or data != payload(seq, size_of(size, seq)):
                sys.exit("transfer: datagram %d came back wrong (%d bytes)" % (seq, len(data)))
            if seq in pending:
                del pending[seq]
                done += 1
        now = time.monotonic()
        for seq, (at, tries) in list(pending.items()):
            if now - at > 0.3:
                if tries >= 20:
                    sys.exit("transfer: datagram %d lost 20 times" % seq)
                s.send(payload(seq, size_of(size, seq)))
                pending[seq] = (now, tries + 1)
                resent += 1
    print("ok %d datagrams, %d resent, %.1f s" % (count, resent, time.monotonic() - t0))


def refused(args):
    s = socket.socket(family(args[0]), socket.SOCK_DGRAM)
    s.connect((args[0], int(args[1])))
    s.settimeout(2)
    t0 = time.monotonic()
    s.send(b"anyone?")
    try:
        s.recv(100)
        sys.exit("refused: got an answer")
    except ConnectionRefusedError:
        print("refused in %d ms" % ((time.monotonic() - t0) * 1000))
    except socket.timeout:
        sys.exit("refused: no ICMP port unreachable within 2 s")


def flows(args):
    addr, port, count = args[0], int(args[1]), int(args[2])
    socks = []
    for i in range(count):
        s = socket.socket(family(addr), socket.SOCK_DGRAM)
        s.connect((addr, port))
        s.settimeout(5)
        s.send(b"flow %d" % i)
        socks.append(s)
    for i, s in enumerate(socks):
        for _ in range(3):
            try:
                if s.recv(100) == b"flow %d" % i:
                    break
            except socket.timeout:
                s.send(b"flow %d" % i)
        else:
            sys.exit("flows: flow %d got no echo" % i)
    for s in socks:
        s.close()
    print("flows %d" % count)


def spray(args):
    addr, port, count = args[0], int(args[1]), int(args[2])
    socks = []
    for i in range(count):
        s = socket.socket(family(addr), socket.SOCK_DGRAM)
        s.connect((addr, port))
        s.send(b"spray %d" % i)
        socks.append(s)
        time.sleep(0.001)
    for s in socks:
        s.close()
    print("sprayed %d" % count)


COMMANDS = {"echo": echo, "transfer": transfer, "refused": refused, "flows": flows,
            "spray": spray}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](sys.argv[2:])

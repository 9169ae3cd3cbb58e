#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A BESS peer for the integration tests: plays the part of User-Mode Linux's vector driver
(vec0:transport=bess,dst=PATH), which connects an AF_UNIX SOCK_SEQPACKET socket to PATH and
then exchanges one whole Ethernet frame per message, with no header, in both directions.

  probe PATH PORT PAYLOAD  a guest with its own tiny stack, all in raw frames: DHCPDISCOVER ->
                           OFFER (10.0.2.15, router .2, DNS .3), DHCPREQUEST -> ACK, an ARP
                           request for 10.0.2.2 -> reply, then a TCP connection to
                           10.0.2.2:PORT (a host echo service): handshake, PAYLOAD, its echo,
                           FIN both ways. Answers libslirp's ARP requests meanwhile. Prints one
                           "ok ..." line per step.
  bridge PATH TAP          relay frames between the socket and a tap device TAP that it
                           creates in the current network namespace, so the namespace's kernel
                           is the guest (as UML's kernel would be). Prints "ready" once both
                           are open; runs until either side closes.
  refused PATH             connect while another peer is attached: expect end of file (the
                           daemon refuses a second peer). Prints "refused".

Exit status 0 on success; any check that fails exits 1 with a message on stderr. Frames go
only to the socket given; nothing here opens a network connection.
"""
import fcntl
import os
import random
import select
import socket
import struct
import sys
import time

GUEST_MAC = bytes.fromhex("020000b3e551")
BROADCAST = b"\xff" * 6
ZERO4 = b"\0" * 4


def die(msg):
    sys.exit("bess-peer: " + msg)


def ip4(s):
    return socket.inet_aton(s)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    return s


# ---- frames -----------------------------------------------------------------------------

def eth(dst, ethertype, payload):
    return dst + GUEST_MAC + struct.pack("!H", ethertype) + payload


def ipv4(src, dst, proto, payload):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), random.randrange(65536),
                      0x4000, 64, proto, 0, src, dst)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def l4_csum(src, dst, proto, seg):
    return csum(src + dst + struct.pack("!BBH", 0, proto, len(seg)) + seg)


def udp(src, dst, sport, dport, data):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    c = l4_csum(src, dst, 17, seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def tcp(src, dst, sport, dport, seq, ack, flags, data=b"", mss=False):
    opts = struct.pack("!BBH", 2, 4, 1460) if mss else b""
    off = (20 + len(opts)) // 4
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, 65535, 0, 0)
    seg += opts + data
    c = l4_csum(src, dst, 6, seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, spa, tha, tpa)


def parse(frame):
    """(ethertype, fields...) of the frames the probe cares about, or None."""
    if len(frame) < 14:
        return None
    etype = struct.unpack("!H", frame[12:14])[0]
    p = frame[14:]
    if etype == 0x0806 and len(p) >= 28:
        op, sha, spa, tha, tpa = struct.unpack("!6xH6s4s6s4s", p[:28])
        return ("arp", op, sha, spa, tpa, frame[6:12])
    if etype != 0x0800 or len(p) < 20 or p[0] >> 4 != 4:
        return None
    ihl = (p[0] & 15) * 4
    total = struct.unpack("!H", p[2:4])[0]
    proto, src, dst = p[9], p[12:16], p[16:20]
    l4 = p[ihl:total]
    if proto == 17 and len(l4) >= 8:
        sport, dport = struct.unpack("!HH", l4[:4])
        return ("udp", src, dst, sport, dport, l4[8:])
    if proto == 6 and len(l4) >= 20:
        sport, dport, seq, ack, off, flags = struct.unpack("!HHIIBB", l4[:14])
        return ("tcp", src, dst, sport, dport, seq, ack, flags, l4[(off >> 4) * 4:])
    return None


# ---- the probing guest ------------------------------------------------------------------

class Guest:
    def __init__(self, sock, deadline):
        self.sock = sock
        self.deadline = deadline
        self.ip = ZERO4

    def send(self, frame):
        self.sock.send(frame)

    def recv(self, want, what):
        """Receive frames until want(parsed) is true; answer ARP requests for our address."""
        while True:
            left = self.deadline - time.monotonic()
            if left <= 0:
                die("timed out waiting for " + what)
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                continue
            frame = self.sock.recv(65536)
            if not frame:
                die("the daemon closed the connection while waiting for " + what)
            p = parse(frame)
            if p is None:
                continue
            if p[0] == "arp" and p[1] == 1 and p[4] == self.ip and self.ip != ZERO4:
                self.send(eth(p[2], 0x0806, arp(2, GUEST_MAC, self.ip, p[2], p[3])))
                continue
            if want(p):
                return p

    def dhcp(self, msgtype, xid, extra=b""):
        bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000, ZERO4,
                            ZERO4, ZERO4, ZERO4, GUEST_MAC, b"", b"")
        opts = b"\x63\x82\x53\x63" + bytes([53, 1, msgtype]) + extra + b"\xff"
        data = udp(ZERO4, b"\xff" * 4, 68, 67, bootp + opts)
        self.send(eth(BROADCAST, 0x0800, ipv4(ZERO4, b"\xff" * 4, 17, data)))

        def reply(p):
            return (p[0] == "udp" and p[3] == 67 and p[4] == 68 and len(p[5]) >= 240 and
                    struct.unpack("!I", p[5][4:8])[0] == xid)
        p = self.recv(reply, "a DHCP reply")
        return p[5]


def dhcp_options(bootp):
    opts, i, b = {}, 240, bootp
    while i < len(b) and b[i] != 255:
        if b[i] == 0:
            i += 1
            continue
        opts[b[i]] = b[i + 2:i + 2 + b[i + 1]]
        i += 2 + b[i + 1]
    return opts


def probe_dhcp(g):
    xid = random.randrange(1 << 32)
    offer = g.dhcp(1, xid)
    o = dhcp_options(offer)
    yiaddr = offer[16:20]
    if o.get(53) != b"\x02":
        die("expected a DHCPOFFER, got message type %r" % o.get(53))
    if yiaddr != ip4("10.0.2.15"):
        die("offered %s, expected 10.0.2.15" % socket.inet_ntoa(yiaddr))
    if o.get(3, b"")[:4] != ip4("10.0.2.2") or o.get(6, b"")[:4] != ip4("10.0.2.3"):
        die("offer's router/DNS are not 10.0.2.2/10.0.2.3: %r" % o)
    if o.get(1) != ip4("255.255.255.0"):
        die("offer's netmask is not 255.255.255.0")
    server = o.get(54, ip4("10.0.2.2"))
    ack = g.dhcp(3, xid, bytes([50, 4]) + yiaddr + bytes([54, 4]) + server)
    if dhcp_options(ack).get(53) != b"\x05":
        die("expected a DHCPACK")
    g.ip = yiaddr
    print("ok dhcp %s router 10.0.2.2 dns 10.0.2.3" % socket.inet_ntoa(yiaddr), flush=True)


def probe_arp(g, target):
    g.send(eth(BROADCAST, 0x0806, arp(1, GUEST_MAC, g.ip, b"\0" * 6, target)))
    p = g.recv(lambda p: p[0] == "arp" and p[1] == 2 and p[3] == target, "an ARP reply")
    mac = p[2]
    if mac == b"\0" * 6 or mac[0] & 1:
        die("ARP reply with a bad MAC %s" % mac.hex(":"))
    print("ok arp %s is-at %s" % (socket.inet_ntoa(target), mac.hex(":")), flush=True)
    return mac


def probe_tcp(g, gw_mac, port, payload):
    gw = ip4("10.0.2.2")
    sport = random.randrange(32768, 60000)
    iss = random.randrange(1 << 32)

    def send(seq, ack, flags, data=b"", mss=False):
        seg = tcp(g.ip, gw, sport, port, seq, ack, flags, data, mss)
        g.send(eth(gw_mac, 0x0800, ipv4(g.ip, gw, 6, seg)))

    def ours(p):
        if p[0] == "tcp" and p[1] == gw and p[3] == port and p[4] == sport:
            if p[7] & 0x04:
                die("the connection was reset")
            return True
        return False

    send(iss, 0, 0x02, mss=True)
    p = g.recv(lambda p: ours(p) and p[7] & 0x12 == 0x12, "the SYN-ACK")
    if p[6] != (iss + 1) & 0xFFFFFFFF:
        die("SYN-ACK acknowledges %d, expected %d" % (p[6], iss + 1))
    rcv = (p[5] + 1) & 0xFFFFFFFF
    snd = (iss + 1) & 0xFFFFFFFF
    send(snd, rcv, 0x18, payload)
    snd = (snd + len(payload)) & 0xFFFFFFFF
    echoed = b""
    while len(echoed) < len(payload):
        p = g.recv(lambda p: ours(p) and (p[8] or p[7] & 0x01), "the echo")
        if p[7] & 0x01 and not p[8]:
            die("the service closed before echoing (%r so far)" % echoed)
        if p[5] == rcv:
            echoed += p[8]
            rcv = (rcv + len(p[8])) & 0xFFFFFFFF
        send(snd, rcv, 0x10)
    if echoed != payload:
        die("echo %r differs from %r" % (echoed, payload))
    print("ok tcp 10.0.2.2:%d echoed %d bytes" % (port, len(echoed)), flush=True)
    send(snd, rcv, 0x11)
    p = g.recv(lambda p: ours(p) and p[7] & 0x01, "the FIN")
    send((snd + 1) & 0xFFFFFFFF, (p[5] + len(p[8]) + 1) & 0xFFFFFFFF, 0x10)
    print("ok tcp closed", flush=True)


def probe(args):
    path, port, payload = args[0], int(args[1]), args[2].encode()
    with connect(path) as s:
        g = Guest(s, time.monotonic() + 20)
        probe_dhcp(g)
        mac = probe_arp(g, ip4("10.0.2.2"))
        probe_tcp(g, mac, port, payload)


# ---- bridge to a tap ---------------------------------------------------------------------

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000


def bridge(args):
    path, name = args
    tap = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tap, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    s = connect(path)
    print("ready", flush=True)
    while True:
        r, _, _ = select.select([s, tap], [], [])
        if s in r:
            frame = s.recv(65536)
            if not frame:
                return
            try:
                os.write(tap, frame)
            except OSError:
                pass  # the interface is down: dropped, as on a wire
        if tap in r:
            s.send(os.read(tap, 65536))


def refused(args):
    with connect(args[0]) as s:
        s.settimeout(5)
        try:
            data = s.recv(65536)
        except socket.timeout:
            die("a second peer was not refused (still connected after 5 s)")
        except ConnectionResetError:
            data = b""
        if data:
            die("a second peer received a frame")
    print("refused", flush=True)


def main():
    cmds = {"probe": (probe, 3), "bridge": (bridge, 2), "refused": (refused, 1)}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds or len(sys.argv) - 2 != cmds[sys.argv[1]][1]:
        sys.exit(__doc__)
    cmds[sys.argv[1]][0](sys.argv[2:])


if __name__ == "__main__":
    main()

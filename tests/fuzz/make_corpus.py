#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write the seed corpus of the two fuzz targets into tests/fuzz/corpus/{api,frame}/.

    python3 tests/fuzz/make_corpus.py   (from anywhere; rewrites the seed files it names)

api/: realistic API requests, one per file, exactly as a client sends them.
frame/: real frames from the namespace in fuzz_frame.c's input format: one flag byte
(bit 0: virtio-net header, bit 1: IPv6 on), then records of a 2-byte little-endian length and
what read() returns from the tap: virtio-net header (10 bytes, host byte order) + Ethernet.
Checksums are correct, so libslirp accepts the frames and the fuzzer starts deep inside it.
Crash reproducers found later are added to the same directories by hand (named crash-*).
"""
import json
import os
import socket
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
GUEST_MAC = bytes.fromhex("02deadbeef01")
SLIRP_MAC = bytes.fromhex("52550a000202")  # libslirp's gateway MAC: 52:55 + 10.0.2.2
BCAST = b"\xff" * 6

API = {
    "add-tcp": {"execute": "add_hostfwd", "arguments": {
        "proto": "tcp", "host_addr": "0.0.0.0", "host_port": 8080,
        "guest_addr": "10.0.2.100", "guest_port": 80}},
    "add-udp-podman": {"execute": "add_hostfwd", "arguments": {
        "proto": "udp", "host_addr": "127.0.0.1", "host_port": 5353, "guest_addr": "",
        "guest_port": 53}},
    "add-ipv6-ephemeral": {"execute": "add_hostfwd", "arguments": {
        "proto": "tcp", "host_addr": "::", "host_port": 0, "guest_addr": "fd00::100",
        "guest_port": 22}},
    "add-busy-port": {"execute": "add_hostfwd", "arguments": {
        "proto": "tcp", "host_port": 1, "guest_port": 1}},
    "list": {"execute": "list_hostfwd"},
    "remove": {"execute": "remove_hostfwd", "arguments": {"id": 1}},
    "remove-missing": {"execute": "remove_hostfwd", "arguments": {"id": 99}},
    "get-info": {"execute": "get_info"},
    "list-connections": {"execute": "list_connections", "arguments": {}},
    "wrong-types": {"execute": "add_hostfwd", "arguments": {
        "proto": 6, "host_addr": ["0.0.0.0"], "host_port": "8080", "guest_port": 1.5}},
}
API_RAW = {
    "escapes": b'{"execute":"add_hostfwd","arguments":{"proto":"t\\u0063p","host_port":80,'
               b'"guest_port":8\xc3\xa9}}',
    "nested": b'{"execute":"get_info","arguments":{"a":' + b"[" * 40 + b"]" * 40 + b"}}",
    "duplicate-key": b'{"execute":"get_info","execute":"list_hostfwd"}',
    "half": b'{"execute":"add_hostfwd","arguments":{"proto":"tc',
}


def csum(data, seed=0):
    if len(data) % 2:
        data += b"\0"
    s = seed + sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s >> 16) + (s & 0xFFFF)
    return s


def ip4(src, dst, proto, payload, ident=1, frag=0x4000):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    c = ~csum(hdr) & 0xFFFF
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def pseudo4(src, dst, proto, length):
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, length)


def pseudo6(src, dst, proto, length):
    return (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) +
            struct.pack("!IxxxB", length, proto))


def l4_csum(pseudo, seg, at):
    c = ~csum(pseudo + seg) & 0xFFFF
    return seg[:at] + struct.pack("!H", c or 0xFFFF) + seg[at + 2:]


def udp4(src, sport, dst, dport, data):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    return ip4(src, dst, 17, l4_csum(pseudo4(src, dst, 17, len(seg)), seg, 6))


def tcp_seg(sport, dport, seq, ack, flags, opts=b"", data=b""):
    doff = (20 + len(opts)) // 4
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, 65535, 0,
                       0) + opts + data


def eth(dst, ethertype, payload):
    return dst + GUEST_MAC + struct.pack("!H", ethertype) + payload


def vnet(flags=0, gso_type=0, hdr_len=0, gso_size=0, csum_start=0, csum_offset=0):
    return struct.pack("<BBHHHH", flags, gso_type, hdr_len, gso_size, csum_start, csum_offset)


def record(data):
    return struct.pack("<H", len(data)) + data


def frame_input(frames, vnet_hdr=True, ipv6=False):
    out = bytes([(1 if vnet_hdr else 0) | (2 if ipv6 else 0)])
    for f in frames:
        out += record((vnet() if vnet_hdr and not isinstance(f, tuple) else b"") +
                      (f if not isinstance(f, tuple) else f[0] + f[1]))
    return out


G4, H4, DNS4 = "10.0.2.100", "10.0.2.2", "10.0.2.3"
MSS1460 = struct.pack("!BBH", 2, 4, 1460)


# libslirp's first SYN-ACK carries sequence number 64001 (its initial sequence number is a
# constant), so a seed can complete the handshake and send data that reaches the host.
SLIRP_ISS = 64001


def tcp4(seg, ident=1):
    return eth(SLIRP_MAC, 0x0800, ip4(G4, H4, 6, l4_csum(pseudo4(G4, H4, 6, len(seg)), seg, 16),
                                      ident=ident))


def syn4():
    return tcp4(tcp_seg(40000, 8080, 1000, 0, 0x02, MSS1460 + b"\x01\x01\x04\x02"))


def frames():
    arp = eth(BCAST, 0x0806, struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, GUEST_MAC,
                                         socket.inet_aton(G4), b"\0" * 6,
                                         socket.inet_aton(H4)))
    yield "arp-request", frame_input([arp])
    yield "arp-request-plain", frame_input([arp], vnet_hdr=False)

    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, 0x12345678, 0, 0x8000,
                        b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4, GUEST_MAC + b"\0" * 10,
                        b"\0" * 64, b"\0" * 128)
    bootp += bytes([99, 130, 83, 99, 53, 1, 1, 55, 3, 1, 3, 6, 255]) + b"\0" * 48
    dhcp = eth(BCAST, 0x0800, udp4("0.0.0.0", 68, "255.255.255.255", 67, bootp))
    yield "dhcp-discover", frame_input([dhcp])

    # The other IPv4 seeds start with the ARP request, from which libslirp learns the guest's
    # MAC address: without it, libslirp answers nothing but an ARP request of its own.
    req = b"GET / HTTP/1.0\r\n\r\n"
    yield "tcp-syn-mss", frame_input([
        arp, syn4(), tcp4(tcp_seg(40000, 8080, 1001, SLIRP_ISS + 1, 0x18, b"", req), 2),
        tcp4(tcp_seg(40000, 8080, 1001 + len(req), SLIRP_ISS + 1, 0x11), 3)])

    # The same SYN as the namespace's kernel sends it with offloads: checksum left to us.
    seg = tcp_seg(40001, 8080, 5000, 0, 0x02, MSS1460)
    seg = seg[:16] + struct.pack("!H", csum(pseudo4(G4, H4, 6, len(seg)))) + seg[18:]
    partial_syn = eth(SLIRP_MAC, 0x0800, ip4(G4, H4, 6, seg))
    # Then a 20000-byte GSO segment (TSO) with NEEDS_CSUM, as after a handshake.
    data = bytes(range(256)) * 78 + b"x" * 32
    seg = tcp_seg(40001, 8080, 5001, SLIRP_ISS + 1, 0x18, b"", data)
    seg = seg[:16] + struct.pack("!H", csum(pseudo4(G4, H4, 6, len(seg)))) + seg[18:]
    gso = eth(SLIRP_MAC, 0x0800, ip4(G4, H4, 6, seg, ident=2))
    f_needs = 1  # VIRTIO_NET_HDR_F_NEEDS_CSUM
    yield "gso-tcp-needs-csum", frame_input([
        arp, (vnet(f_needs, 0, 0, 0, 34, 16), partial_syn),
        (vnet(f_needs, 1, 54, 1448, 34, 16), gso)])  # gso_type 1: VIRTIO_NET_HDR_GSO_TCPV4

    q = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x07example\x04test\x00" + \
        struct.pack("!HH", 1, 1)
    yield "udp-dns-query", frame_input([arp, eth(SLIRP_MAC, 0x0800,
                                                         udp4(G4, 33333, DNS4, 53, q))])

    icmp = struct.pack("!BBHHH", 8, 0, 0, 7, 1) + b"ping" * 8
    icmp = icmp[:2] + struct.pack("!H", ~csum(icmp) & 0xFFFF) + icmp[4:]
    yield "icmp-echo", frame_input([arp, eth(SLIRP_MAC, 0x0800, ip4(G4, H4, 1, icmp))])

    # A UDP datagram to the DNS address in two IPv4 fragments (reassembly).
    payload = struct.pack("!HHHH", 33334, 53, 8 + len(q) + 16, 0) + q + b"\0" * 16
    payload = l4_csum(pseudo4(G4, DNS4, 17, len(payload)), payload, 6)
    f1 = ip4(G4, DNS4, 17, payload[:16], ident=9, frag=0x2000)
    f2 = ip4(G4, DNS4, 17, payload[16:], ident=9, frag=2)
    yield "ip-fragments", frame_input([arp, eth(SLIRP_MAC, 0x0800, f1),
                                       eth(SLIRP_MAC, 0x0800, f2)])

    # IPv6 router solicitation from a link-local address to all-routers.
    src, dst = "fe80::de:adff:febe:ef01", "ff02::2"
    rs = struct.pack("!BBHI", 133, 0, 0, 0) + bytes([1, 1]) + GUEST_MAC
    rs = l4_csum(pseudo6(src, dst, 58, len(rs)), rs, 2)
    ip6 = struct.pack("!IHBB16s16s", 0x60000000, len(rs), 58, 255,
                      socket.inet_pton(socket.AF_INET6, src),
                      socket.inet_pton(socket.AF_INET6, dst)) + rs
    yield "ipv6-rs", frame_input([eth(bytes.fromhex("333300000002"), 0x86DD, ip6)], ipv6=True)


def main():
    for name, req in API.items():
        with open(os.path.join(HERE, "corpus", "api", name), "wb") as f:
            f.write(json.dumps(req, separators=(",", ":")).encode())
    for name, raw in API_RAW.items():
        with open(os.path.join(HERE, "corpus", "api", name), "wb") as f:
            f.write(raw)
    for name, data in frames():
        with open(os.path.join(HERE, "corpus", "frame", name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

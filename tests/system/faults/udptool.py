#!/usr/bin/env python3
"""udptool.py — small UDP helpers for the fault tests (stdlib only, bounded).

  udptool.py echo [--bind IP] [--port P] [--seconds S] [--log FILE]
      echoes every datagram; prints "listening PORT"; with --log writes the
      payload of each datagram (one line, as text) in arrival order.
  udptool.py seq HOST PORT --count N [--gap-ms G] [--wait-ms W]
      sends datagrams "0", "1", ... N-1 from one socket, G ms apart, and
      collects the echoes until W ms after the last send; prints the numbers
      received back in arrival order on one line, then "rtt_ms MIN MAX".
  udptool.py spray HOST PORT --count N [--seed S] [--max-len L] [--kind K]
                             [--sources M] [--rate R]
      sends N hostile datagrams (kind: random, coap, dtls, clienthello, mix)
      from M source sockets (ports), at most R per second, seeded; prints
      "sent N from M ports" and "answers A" (datagrams that came back).
      --spoof IP:PORT (root, IPv4): sent through a raw socket with that
      source address instead, as an off-path attacker forging the peer.
"""
import argparse
import random
import select
import socket
import struct
import sys
import time


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def cmd_echo(a):
    s = socket.socket(family_of(a.bind), socket.SOCK_DGRAM)
    s.bind((a.bind, a.port))
    print("listening", s.getsockname()[1], flush=True)
    log = open(a.log, "w", buffering=1) if a.log else None
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        r, _, _ = select.select([s], [], [], 0.2)
        if not r:
            continue
        data, peer = s.recvfrom(65536)
        if log:
            log.write(data.decode("ascii", "replace") + "\n")
        s.sendto(data, peer)


def cmd_seq(a):
    s = socket.socket(family_of(a.host), socket.SOCK_DGRAM)
    s.connect((a.host, a.port))
    sent_at = {}
    got = []
    rtts = []

    def drain(timeout):
        r, _, _ = select.select([s], [], [], timeout)
        while r:
            try:
                data = s.recv(65536)
            except ConnectionRefusedError:
                data = None
            if data is not None:
                n = int(data.decode())
                got.append(n)
                if n in sent_at:
                    rtts.append((time.monotonic() - sent_at[n]) * 1000)
            r, _, _ = select.select([s], [], [], 0)

    for i in range(a.count):
        sent_at[i] = time.monotonic()
        s.send(str(i).encode())
        drain(a.gap_ms / 1000.0)
    end = time.monotonic() + a.wait_ms / 1000.0
    while time.monotonic() < end:
        drain(max(0.0, end - time.monotonic()))
    print(" ".join(map(str, got)))
    if rtts:
        print("rtt_ms %d %d" % (min(rtts), max(rtts)))
    else:
        print("rtt_ms none")


def coap_garbage(rng):
    """A datagram that looks like CoAP but is wrong somewhere."""
    ver_type_tkl = (1 << 6) | (rng.randrange(4) << 4) | rng.randrange(16)
    code = rng.choice([0, 1, 2, 3, 4, 0x45, 0x44, 0x84, 0xff, rng.randrange(256)])
    mid = rng.randrange(65536)
    tok = rng.randbytes(ver_type_tkl & 0xF if (ver_type_tkl & 0xF) <= 8 else rng.randrange(9))
    opts = b""
    for _ in range(rng.randrange(6)):
        delta = rng.choice([1, 3, 4, 7, 11, 12, 13, 14, 15, 23, 27, 28, 60])
        length = rng.choice([0, 1, 4, 12, 13, 14, 15, 200])
        opts += bytes([((min(delta, 15)) << 4) | min(length, 15)])
        if rng.random() < 0.3:
            opts += bytes([rng.randrange(256)])  # extended bytes, maybe wrong
        opts += rng.randbytes(rng.randrange(0, 20))
    tail = b""
    if rng.random() < 0.5:
        tail = b"\xff" + rng.randbytes(rng.randrange(0, 64))
    d = struct.pack("!BBH", ver_type_tkl, code, mid) + tok + opts + tail
    return d[: rng.randrange(1, len(d) + 1)] if rng.random() < 0.3 else d


def dtls_garbage(rng):
    """Records with plausible DTLS headers and broken contents."""
    out = b""
    for _ in range(rng.randrange(1, 4)):
        ctype = rng.choice([20, 21, 22, 23, 24, 25, rng.randrange(256)])
        ver = rng.choice([b"\xfe\xfd", b"\xfe\xff", b"\x03\x03", rng.randbytes(2)])
        epoch = rng.choice([0, 0, 1, rng.randrange(65536)])
        body = rng.randbytes(rng.randrange(0, 120))
        length = rng.choice([len(body), len(body) + 7, 0, 65535, rng.randrange(65536)])
        out += struct.pack("!B2sH6sH", ctype, ver, epoch, rng.randbytes(6), length) + body
    return out


def client_hello(rng, cookie=b""):
    """A well-formed DTLS 1.2 ClientHello offering PSK and ECDHE-ECDSA suites."""
    random_bytes = rng.randbytes(32)
    suites = [0xC0A8, 0xC0AE, 0xC0A4, 0x00A8, 0xC02B]  # PSK/ECDHE CCM(_8), GCM
    body = b"\xfe\xfd" + random_bytes + b"\x00" + bytes([len(cookie)]) + cookie
    body += struct.pack("!H", 2 * len(suites)) + b"".join(struct.pack("!H", x) for x in suites)
    body += b"\x01\x00"
    ext = struct.pack("!HH", 0x000A, 4) + struct.pack("!HH", 2, 23)  # supported_groups
    ext += struct.pack("!HH", 0x000B, 2) + b"\x01\x00"  # ec_point_formats
    ext += struct.pack("!HH", 0x000D, 4) + struct.pack("!HH", 2, 0x0403)  # sig algs
    body += struct.pack("!H", len(ext)) + ext
    seq = 0
    hs = struct.pack("!B", 1) + len(body).to_bytes(3, "big") + struct.pack("!H", seq)
    hs += (0).to_bytes(3, "big") + len(body).to_bytes(3, "big") + body
    rec = struct.pack("!B2sH", 22, b"\xfe\xfd", 0) + (0).to_bytes(6, "big")
    return rec + struct.pack("!H", len(hs)) + hs


def spoofed_sender(src, dst_host, dst_port):
    """A send(data) that forges IPv4 + UDP headers from src ("IP:PORT")."""
    sip, sport = src.rsplit(":", 1)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    ident = [0]

    def send(data):
        ident[0] = (ident[0] + 1) & 0xFFFF
        udp = struct.pack("!HHHH", int(sport), dst_port, 8 + len(data), 0) + data
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), ident[0], 0, 64,
                         socket.IPPROTO_UDP, 0, socket.inet_aton(sip),
                         socket.inet_aton(dst_host))
        raw.sendto(ip + udp, (dst_host, 0))
    return send


def cmd_spray(a):
    rng = random.Random(a.seed)
    socks = []
    spoof = spoofed_sender(a.spoof, a.host, a.port) if a.spoof else None
    fam = family_of(a.host)
    for _ in range(a.sources):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind(("::1" if fam == socket.AF_INET6 else "127.0.0.1", 0))
        s.setblocking(False)
        socks.append(s)
    kinds = ["random", "coap", "dtls", "clienthello"] if a.kind == "mix" else [a.kind]
    answers = 0
    sent = 0
    start = time.monotonic()
    deadline = start + a.max_seconds
    for i in range(a.count):
        if time.monotonic() > deadline:
            break
        kind = rng.choice(kinds)
        if kind == "random":
            d = rng.randbytes(rng.randrange(1, a.max_len + 1))
        elif kind == "coap":
            d = coap_garbage(rng)
        elif kind == "dtls":
            d = dtls_garbage(rng)
        else:
            d = client_hello(rng)
        s = socks[i % len(socks)]
        try:
            if spoof:
                spoof(d[:65000])
            else:
                s.sendto(d, (a.host, a.port))
            sent += 1
        except (BlockingIOError, ConnectionRefusedError, OSError):
            pass
        if a.rate and sent % 50 == 0:
            ahead = sent / a.rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
        if i % 64 == 0:
            for t in socks[max(0, i % len(socks) - 64): i % len(socks) + 1]:
                try:
                    while True:
                        t.recv(65536)
                        answers += 1
                except (BlockingIOError, ConnectionRefusedError, OSError):
                    pass
    time.sleep(0.2)
    for t in socks:
        try:
            while True:
                t.recv(65536)
                answers += 1
        except (BlockingIOError, ConnectionRefusedError, OSError):
            pass
        t.close()
    print("sent %d from %d ports" % (sent, len(socks)))
    print("answers %d" % answers)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("echo")
    e.add_argument("--bind", default="127.0.0.1")
    e.add_argument("--port", type=int, default=0)
    e.add_argument("--seconds", type=float, default=60)
    e.add_argument("--log")
    q = sub.add_parser("seq")
    q.add_argument("host")
    q.add_argument("port", type=int)
    q.add_argument("--count", type=int, required=True)
    q.add_argument("--gap-ms", type=float, default=2)
    q.add_argument("--wait-ms", type=float, default=500)
    s = sub.add_parser("spray")
    s.add_argument("host")
    s.add_argument("port", type=int)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--max-len", type=int, default=1500)
    s.add_argument("--kind", default="mix",
                   choices=["random", "coap", "dtls", "clienthello", "mix"])
    s.add_argument("--sources", type=int, default=1)
    s.add_argument("--rate", type=float, default=0)
    s.add_argument("--max-seconds", type=float, default=60)
    s.add_argument("--spoof")
    a = p.parse_args()
    {"echo": cmd_echo, "seq": cmd_seq, "spray": cmd_spray}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())

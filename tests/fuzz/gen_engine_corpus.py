#!/usr/bin/env python3
"""Writes the seed corpora of fuzz_bootstrap and fuzz_server (run from the
repository root). Each seed is a sequence of records [op][len lo][len hi][data]
as the targets' headers describe."""
import os
import struct


def opt_bytes(opts):
    out, last = b"", 0
    for num, val in sorted(opts, key=lambda o: o[0]):
        d, l = num - last, len(val)
        last = num

        def nib(x):
            if x < 13:
                return x, b""
            if x < 269:
                return 13, bytes([x - 13])
            return 14, struct.pack(">H", x - 269)
        dn, de = nib(d)
        ln, le = nib(l)
        out += bytes([dn << 4 | ln]) + de + le + val
    return out


def coap(typ, code, mid, token=b"\xaa", path=(), query=(), cf=None, payload=b"", extra=()):
    opts = [(11, p.encode()) for p in path] + [(15, q.encode()) for q in query]
    if cf is not None:
        opts.append((12, struct.pack(">H", cf) if cf > 255 else (bytes([cf]) if cf else b"")))
    opts += list(extra)
    msg = bytes([0x40 | typ << 4 | len(token), code]) + struct.pack(">H", mid) + token
    msg += opt_bytes(opts)
    if payload:
        msg += b"\xff" + payload
    return msg


def rec(op, data):
    return bytes([op]) + struct.pack("<H", len(data)) + data


POST, DELETE, GET, PUT = 2, 4, 1, 3


def write(dirname, name, records):
    with open(os.path.join(dirname, name), "wb") as f:
        f.write(b"".join(records))


bs = "tests/fuzz/corpus/fuzz_bootstrap"
req = lambda ep, mid, q=(): coap(0, POST, mid, path=["bs"], query=["ep=" + ep] + list(q))
ans = lambda code, cfi=0, payload=b"": bytes([code, cfi]) + payload
ok_sequence = [rec(0x0C, ans(0x42)), rec(0x0C, ans(0x45, 2, b"</>;lwm2m=1.1,</0/0>")),
               rec(0x0C, ans(0x44)), rec(0x0C, ans(0x44)), rec(0x0C, ans(0x44)),
               rec(0x0C, ans(0x44)), rec(0x0C, ans(0x44)), rec(0x0C, ans(0x44))]
write(bs, "psk_pending_approve", [
    rec(0x08, b"\x01dev0"), rec(0x00, req("dev0", 1)), rec(0x04, b"\x00\x00"),
    rec(0x10, req("dev0", 2))] + ok_sequence)
write(bs, "x509_auto_wifi", [rec(0x08, b"\x02dev1"), rec(0x00, req("dev1", 1)), rec(0x10, b"")]
      + ok_sequence + [rec(0x0C, ans(0x44))])
write(bs, "rpk_cbor", [rec(0x08, b"\x04"), rec(0x00, req("dev2", 3, ["pct=112"])),
                       rec(0x04, b"\x02\x00"), rec(0x00, req("dev2", 4, ["pct=112"]))]
      + ok_sequence)
write(bs, "nosec", [rec(0x00, req("dev3", 9)), rec(0x04, b"\x03\x00"), rec(0x00, req("dev3", 10))]
      + ok_sequence)
write(bs, "refusals", [rec(0x08, b"\x01dev3"), rec(0x00, req("dev0", 1)),
                       rec(0x00, req("ghost", 2)), rec(0x00, coap(0, GET, 3, path=["bs"])),
                       rec(0x00, req("dev0", 4, ["pct=11543"])), rec(0x04, b"\x00\x01"),
                       rec(0x04, b"\x01\x03dev1")])
write(bs, "failures", [rec(0x08, b"\x01dev0"), rec(0x00, req("dev0", 1)), rec(0x04, b"\x00\x00"),
                       rec(0x00, req("dev0", 2)), rec(0x0C, ans(0x42)), rec(0x0C, ans(0x84)),
                       rec(0x0C, ans(0x44)), rec(0x0C, ans(0x80)), rec(0x00, req("dev0", 3)),
                       rec(0x0C, ans(0)), rec(0xF0, b""), rec(0xF0, b"")])

srv = "tests/fuzz/corpus/fuzz_server"
LINKS = b'</>;rt="oma.lwm2m";ct=11542,</1/0>,</3/0>,</3303/0>'
reg = lambda ep, mid, q=(): coap(0, POST, mid, path=["rd"], query=["ep=" + ep] + list(q), cf=40,
                                 payload=LINKS)
write(srv, "register_update", [rec(0x00, reg("dev0", 1, ["lt=60", "lwm2m=1.1", "b=U"])),
                               rec(0x10, coap(0, POST, 2, path=["rd", "00000001"], query=["lt=90"])),
                               rec(0x20, coap(0, DELETE, 3, path=["rd", "00000001"]))])
TLV_DEV = bytes.fromhex("c800046475636bc101016d31")
write(srv, "register_read", [rec(0x00, reg("dev1", 1)), rec(0x04, b"\x01\x00\x00\x00/3/0"),
                             rec(0x0C, ans(0x45, 7, TLV_DEV)),
                             rec(0x04, b"\x01\x00\x05\x00/3/0"),
                             rec(0x0C, ans(0x45, 5, b'[{"bn":"/3/0/","n":"0","vs":"duck"}]')),
                             rec(0x04, b"\x01\x00\x06\x00/3/0"),
                             rec(0x0C, ans(0x45, 6, bytes.fromhex("81a221652f332f302f00036464756b")))])
write(srv, "observe", [rec(0x00, reg("dev2", 1, ["Q"])),
                       rec(0x04, b"\x02\x08\x01\x00/3303/0/5700"),
                       rec(0x0C, ans(0x45, 0x81, b"21.5")), rec(0x0C, ans(0x45, 0x81, b"22.5")),
                       rec(0x08, b"\x01\x01"), rec(0x0C, ans(0x45, 1, b"23"))])
write(srv, "write_attrs_create", [rec(0x00, reg("dev3", 1)),
                                  rec(0x04, b"\x03\x04\x70\x1e/3303/0/5700 abc"),
                                  rec(0x0C, ans(0x44)),
                                  rec(0x04, b"\x03\x02\x70\x00/3311/0/5850 x"),
                                  rec(0x0C, ans(0x44)),
                                  rec(0x04, b"\x03\x06\x00\x01/3311 args"),
                                  rec(0x0C, ans(0x41)), rec(0x04, b"\x03\x05\x00\x01/3/0/4 1"),
                                  rec(0x0C, ans(0x84))])
write(srv, "refused_and_restore", [rec(0x00, reg("evil", 1)),
                                   rec(0x08, b"\x03\x01\x01\x02\x03\x40</3/0>"),
                                   rec(0x08, b"\x02\x01"),
                                   rec(0x00, coap(0, GET, 5, path=["rd"]))])

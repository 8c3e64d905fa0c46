#!/usr/bin/env python3
"""fwdsend.py: a minimal Fluentd forward protocol client for smoke tests.

Standard library only (no msgpack module): it packs msgpack by hand.

  fwdsend.py HOST:PORT --mode message|forward|packed|compressed
             [--tag TAG] [--n N] [--text PREFIX] [--ack]
  fwdsend.py HOST:PORT --heartbeat

Sends N records {"log": "PREFIX i", "source": "stdout", "seq": i} with
EventTime timestamps in the given mode (compressed = CompressedPackedForward
made of two concatenated gzip members). With --ack it asks for an ack
(option "chunk") and exits 1 unless the server returns {"ack": chunk}.
--heartbeat sends the UDP heartbeat byte 0x00 and expects it echoed.
"""

import argparse
import base64
import gzip
import os
import socket
import struct
import sys
import time


class EventTime:
    def __init__(self, ns):
        self.sec, self.nsec = divmod(ns, 1_000_000_000)


def pack(o):
    if o is None:
        return b"\xc0"
    if o is True:
        return b"\xc3"
    if o is False:
        return b"\xc2"
    if isinstance(o, EventTime):
        return b"\xd7\x00" + struct.pack(">II", o.sec, o.nsec)
    if isinstance(o, int):
        if 0 <= o < 0x80:
            return bytes([o])
        if -32 <= o < 0:
            return struct.pack("b", o)
        if 0 <= o < 1 << 32:
            return b"\xce" + struct.pack(">I", o)
        if 0 <= o < 1 << 64:
            return b"\xcf" + struct.pack(">Q", o)
        return b"\xd3" + struct.pack(">q", o)
    if isinstance(o, str):
        b = o.encode()
        n = len(b)
        if n < 32:
            return bytes([0xA0 | n]) + b
        if n < 1 << 8:
            return b"\xd9" + bytes([n]) + b
        if n < 1 << 16:
            return b"\xda" + struct.pack(">H", n) + b
        return b"\xdb" + struct.pack(">I", n) + b
    if isinstance(o, (bytes, bytearray)):
        n = len(o)
        if n < 1 << 8:
            return b"\xc4" + bytes([n]) + bytes(o)
        if n < 1 << 16:
            return b"\xc5" + struct.pack(">H", n) + bytes(o)
        return b"\xc6" + struct.pack(">I", n) + bytes(o)
    if isinstance(o, (list, tuple)):
        n = len(o)
        h = bytes([0x90 | n]) if n < 16 else (b"\xdc" + struct.pack(">H", n) if n < 1 << 16 else b"\xdd" + struct.pack(">I", n))
        return h + b"".join(pack(x) for x in o)
    if isinstance(o, dict):
        n = len(o)
        h = bytes([0x80 | n]) if n < 16 else (b"\xde" + struct.pack(">H", n) if n < 1 << 16 else b"\xdf" + struct.pack(">I", n))
        return h + b"".join(pack(k) + pack(v) for k, v in o.items())
    raise TypeError(f"cannot pack {type(o)}")


def addr(s):
    host, _, port = s.rpartition(":")
    return host, int(port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("address")
    ap.add_argument("--mode", default="message", choices=["message", "forward", "packed", "compressed"])
    ap.add_argument("--tag", default="smoke")
    ap.add_argument("--n", type=int, default=1)
    ap.add_argument("--text", default="hello")
    ap.add_argument("--ack", action="store_true")
    ap.add_argument("--heartbeat", action="store_true")
    ap.add_argument("--timeout", type=float, default=10)
    a = ap.parse_args()

    if a.heartbeat:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(a.timeout)
        s.sendto(b"\x00", addr(a.address))
        data, _ = s.recvfrom(16)
        if data != b"\x00":
            sys.exit(f"fwdsend: heartbeat answer {data!r}, want b'\\x00'")
        print("heartbeat ok")
        return

    now = time.time_ns()
    entries = [(EventTime(now + i), {"log": f"{a.text} {i}", "source": "stdout", "seq": i}) for i in range(a.n)]
    chunk = base64.b64encode(os.urandom(16)).decode() if a.ack else None
    opt = {"size": a.n}
    if chunk:
        opt["chunk"] = chunk

    msgs = []
    if a.mode == "message":
        # one request per record; only the last one asks for the ack
        for i, (t, r) in enumerate(entries):
            o = {"chunk": chunk} if chunk and i == a.n - 1 else {}
            msgs.append(pack([a.tag, t, r, o] if o else [a.tag, t, r]))
    elif a.mode == "forward":
        msgs.append(pack([a.tag, [[t, r] for t, r in entries], opt]))
    elif a.mode == "packed":
        msgs.append(pack([a.tag, b"".join(pack([t, r]) for t, r in entries), opt]))
    else:
        half = a.n // 2
        z = gzip.compress(b"".join(pack([t, r]) for t, r in entries[:half])) + gzip.compress(
            b"".join(pack([t, r]) for t, r in entries[half:])
        )
        msgs.append(pack([a.tag, z, dict(opt, compressed="gzip")]))

    with socket.create_connection(addr(a.address), timeout=a.timeout) as s:
        for m in msgs:
            s.sendall(m)
        if not chunk:
            print(f"sent {a.n} ({a.mode})")
            return
        want = pack({"ack": chunk})
        got = b""
        while len(got) < len(want):
            b = s.recv(len(want) - len(got))
            if not b:
                sys.exit(f"fwdsend: connection closed before the ack (got {got!r})")
            got += b
        if got != want:
            sys.exit(f"fwdsend: ack {got!r}, want {want!r}")
    print(f"sent {a.n} ({a.mode}), acked")


if __name__ == "__main__":
    main()

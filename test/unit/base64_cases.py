#!/usr/bin/env python3
"""base64_cases.py — cases for base64_test.c: "HEX B64 ok|reject" per line, deterministic.
ok: canonical base64 (Python's b64encode) that must decode to HEX; reject: input the quad
decoder must leave to pg_b64_decode (missing padding, an escape or byte outside the alphabet,
an early or extra '=')."""
import base64, random

r = random.Random(9)
def emit(data, s, want):
    print(data.hex() or "-", s or "-", want)

for n in list(range(0, 70)) + [1000, 4095, 4096, 4097, 200001]:
    d = bytes(r.randrange(256) for _ in range(n))
    s = base64.b64encode(d).decode()
    emit(d, s, "ok")
    if n == 0:
        continue
    if s.endswith("="):
        emit(b"", s.rstrip("="), "reject")
    i = r.randrange(len(s) + 1)
    emit(b"", s[:i] + "\\n" + s[i:], "reject")
    for bad in "-_.!\x7f\xe9":
        j = r.randrange(len(s))
        if s[j] != "=":
            emit(b"", s[:j] + bad + s[j + 1:], "reject")
    if len(s) >= 8:
        emit(b"", "QQ==" + s, "reject")
        emit(b"", s[:-4] + "Q===", "reject")
        emit(b"", s[:-4] + "====", "reject")
for s in ("Q", "QQ", "QQQ", "QQ=A", "Q=QQ"):
    emit(b"", s, "reject")

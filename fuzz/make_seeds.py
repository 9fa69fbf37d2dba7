#!/usr/bin/env python3
"""Regenerates the committed seed corpora under fuzz/corpus/<target>/ from the unit tests' literals
and the SigV4 vectors. Deterministic: file names are a hash of the content, so rerunning adds
nothing new. Usage: python3 fuzz/make_seeds.py  (from anywhere; stdlib only)."""
import codecs
import glob
import hashlib
import json
import os
import re
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")

# "..." C string literal (escapes) or R"delim(...)delim" raw literal.
STR = r'"(?:[^"\\\n]|\\.)*"'
RAW = r'R"(?P<d>[^(\s]*)\((?P<raw>.*?)\)(?P=d)"'


def c_string(lit):
    """Decodes a C++ "..." literal's body (simple escapes, \\uXXXX, \\xHH)."""
    body = lit[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        n = body[i + 1]
        if n == "x":
            m = re.match(r"[0-9a-fA-F]+", body[i + 2:])
            out.append(int(m.group(0), 16) & 0xFF)
            i += 2 + len(m.group(0))
        elif n == "u":
            out += chr(int(body[i + 2:i + 6], 16)).encode()
            i += 6
        else:
            out += codecs.decode("\\" + n, "unicode_escape").encode("latin-1")
            i += 2
    return bytes(out)


def literals(text):
    """Every string literal in `text`, in order, decoded to bytes."""
    out = []
    for m in re.finditer(RAW + "|" + STR, text, re.S):
        out.append(m.group("raw").encode() if m.group("raw") is not None else c_string(m.group(0)))
    return out


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def write(target, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def arg_literal(text, pos):
    """The literal (or kDocPayload-like constant) starting at text[pos:], decoded; None if not one."""
    m = re.compile(RAW + "|" + STR, re.S).match(text, pos)
    if not m:
        return None
    return m.group("raw").encode() if m.group("raw") is not None else c_string(m.group(0))


def selection_expression():
    src = read("tests/unit/routing/selection_expression_test.cpp")
    doc = re.search(r"kDocPayload =\s*(" + RAW + ")", src, re.S).group("raw").encode()
    for m in re.finditer(r"\beval\(\s*", src):
        expr = arg_literal(src, m.end())
        if expr is None:
            continue
        rest = src[m.end():]
        after = re.match(RAW + "|" + STR, rest, re.S).end()
        tail = rest[after:].lstrip(", \n")
        body = doc if tail.startswith("kDocPayload") else arg_literal(tail, 0) or doc
        write("fuzz_selection_expression", expr + b"\0" + body)
    for m in re.finditer(r"\b(compile_ok|compile_error|compile)\(\s*", src):
        expr = arg_literal(src, m.end())
        if expr is not None:
            write("fuzz_selection_expression", expr + b"\0" + doc)
    write("fuzz_selection_expression", b"$request.body.items[2].name\0"
          b'{"items":[{"name":"a"},{"name":"b"},{"name":"c"}]}')
    write("fuzz_selection_expression", b"\\$literal-${request.body['a b']}\0{\"a b\":[1,2.5,-3e2]}")


def sigv4():
    for pattern in ("tests/data/sigv4/execute-api/*/*.req", "tests/data/sigv4/aws-suite/*/*.req",
                    "tests/data/sigv4/aws-suite/*/*.sreq"):
        for p in sorted(glob.glob(os.path.join(ROOT, pattern))):
            with open(p, "rb") as f:
                write("fuzz_sigv4_verify", f.read())


def connections_target():
    vectors = json.loads(read("tests/data/sigv4/execute-api/vectors.json"))
    paths = {v["wire_path"].encode() for v in vectors if "wire_path" in v}
    paths |= {b"/dev/@connections/abc", b"/dev/%40connections/abc%3D?x=1", b"/@connections/abc",
              b"/dev/@connections", b"/dev/@connections/a/b", b"/dev/@connections/%zz",
              b"//dev///@connections//id//", b"/dev/%40CONNECTIONS/abc", b"/dev/@connection%73/abc",
              b"/", b"", b"?/dev/@connections/x", b"/dev/@connections/%"}
    for p in sorted(paths):
        write("fuzz_connections_target", p)


def status_prefix(status):
    if 200 <= status <= 299:
        return bytes([0, status - 200])
    return bytes([0x80 | (status >> 8), status & 0xFF])


def proxy_response():
    src = read("tests/unit/integration/proxy_response_test.cpp")
    for m in re.finditer(r"parse_proxy_response\(\s*(\d+),\s*", src):
        body = arg_literal(src, m.end())
        if body is not None:
            write("fuzz_proxy_response", status_prefix(int(m.group(1))) + body)
    for body in (b'{"statusCode":200,"isBase64Encoded":true,"body":"aGVsbG8="}',
                 b'{"statusCode":101,"headers":{"Sec-WebSocket-Protocol":"chat"}}',
                 b'{"statusCode":200,"multiValueHeaders":{"sec-websocket-protocol":["a","b"]}}'):
        write("fuzz_proxy_response", status_prefix(200) + body)


def config():
    src = read("tests/unit/config/load_test.cpp")
    for m in re.finditer(r"(?:expect_yaml_error|parse_yaml)\(\s*", src):
        doc = arg_literal(src, m.end())
        if doc is not None:
            write("fuzz_config", doc)
    for m in re.finditer(r"constexpr std::string_view \w+ = (" + RAW + ")", src, re.S):
        write("fuzz_config", m.group("raw").encode())
    load_cpp = read("src/config/load.cpp")
    write("fuzz_config", re.search(r"kEmbeddedDefault = (" + RAW + ")", load_cpp, re.S).group("raw").encode())


class FdpWriter:
    """Builds input that libFuzzer's FuzzedDataProvider reads back as the given values: strings
    from the front (a backslash + any other byte ends one; "\\\\" is a backslash), integers from the
    back (most significant byte consumed first), the rest as the remaining bytes."""

    def __init__(self):
        self.front = bytearray()
        self.back = []  # in consumption order

    def string(self, s):
        self.front += s.replace(b"\\", b"\\\\") + b"\\ "

    def integral(self, value, lo, hi):
        rng = hi - lo
        nbytes = (rng.bit_length() + 7) // 8
        self.back += list((value - lo).to_bytes(nbytes, "big"))

    def bool(self, b):
        self.back.append(1 if b else 0)

    def finish(self, remaining):
        return bytes(self.front) + remaining + bytes(reversed(self.back))


def events():
    headers = [(b"Host", b"abcdef123.execute-api.us-east-1.amazonaws.com"),
               (b"Origin", b"https://app.example.com"),
               (b"Sec-WebSocket-Key", b"bnfeqmh9SSPr5Sg9DvFIBw=="),
               (b"User-Agent", b"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"),
               (b"X-Forwarded-For", b"198.51.100.7"), (b"x-dup", b"1"), (b"X-Dup", b"2"), (b"x-dup", b"3")]
    cases = [
        (True, headers[:5], True, [(b"token", b"abc")], b'{"action":"join","data":"caf\xc3\xa9"}'),
        (False, headers, False, [], b"plain text \"quoted\" \\ and \x01 control"),
        (True, [], True, [(b"a", b"1"), (b"a", b"2"), (b"", b"")], b""),
    ]
    i32 = (-(2 ** 31), 2 ** 31 - 1)
    i64 = (-(2 ** 63), 2 ** 63 - 1)
    for has_ua, hdrs, has_query, query, body in cases:
        w = FdpWriter()
        w.string(b"R1kmxc2VNjMCFIA=")
        w.string(b"abcdef123")
        w.string(b"prod")
        w.string(b"abcdef123.execute-api.us-east-1.amazonaws.com")
        w.string(b"198.51.100.7")
        w.bool(has_ua)
        if has_ua:
            w.string(b"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)")
        w.integral(1705751697000, *i64)
        w.string(b"R1kmxGc4yQ0FsSA=")
        w.integral(1705751697123, 0, 7258118400000)
        w.integral(len(hdrs), 0, 8)
        for k, v in hdrs:
            w.string(k)
            w.string(v)
        w.bool(has_query)
        if has_query:
            w.integral(len(query), 0, 8)
            for k, v in query:
                w.string(k)
                w.string(v)
        w.string(b"$default")
        w.string(b"R1kmxG5LyQ0FsSA=")
        w.string(b"abcdef123.execute-api.us-east-1.amazonaws.com")
        w.integral(1001, *i32)
        w.string(b"Going away")
        write("fuzz_events", w.finish(body))


if __name__ == "__main__":
    selection_expression()
    sigv4()
    connections_target()
    proxy_response()
    config()
    events()
    total = sum(os.path.getsize(p) for p in glob.glob(os.path.join(CORPUS, "*", "*")))
    for d in sorted(os.listdir(CORPUS)):
        print(f"{d}: {len(os.listdir(os.path.join(CORPUS, d)))} seeds")
    print(f"total {total} bytes")

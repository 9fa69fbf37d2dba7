#!/usr/bin/python3
"""Frame-level RFC 6455 conformance probes for wsgate.

Raw TCP sockets and hand-built frames (Python standard library only: socket, struct, os): every
byte the server gets is written here, so cases that real clients refuse to send (unmasked frames,
reserved bits and opcodes, bad close codes, invalid UTF-8, oversized control frames, lying length
fields) can be sent, and every frame the server answers with is seen as it is on the wire.

The runner starts two gateways from $WSGATE_BIN (default build/release/src/app/wsgate, relative to
the repository root):
  main    the embedded default configuration (stage dev, $default -> built-in echo), and
  limits  a config file with connection.max_message_bytes = 4096 (same echo route),
runs every case, prints a PASS/FAIL table with the expected and observed answers, stops the
gateways with SIGTERM (they must exit 0) and exits 1 if anything failed.

Usage: /usr/bin/python3 tests/conformance/run_probes.py [--only SUBSTRING] [--json FILE] [-v]
See tests/conformance/README.md.
"""

import argparse
import base64
import errno
import hashlib
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
SUITE_BUDGET_S = 55.0        # the whole suite, gateways included, stays under a minute
EVENT_TIMEOUT_S = 3.0        # longest wait for one expected frame
FIN_TIMEOUT_S = 2.0          # after the server's close frame: wait this long for its TCP FIN
LIMIT = 4096                 # connection.max_message_bytes of the 'limits' gateway
BINARY_EXISTED = False       # set by main(): retry ENOENT (a relink in progress) only if it existed
WS_GUID = b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


# ------------------------------------------------------------------------------------------------
# Frames

def xor_mask(data, key):
    if not data:
        return b''
    n = len(data)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, 'big') ^ int.from_bytes(k, 'big')).to_bytes(n, 'big')


def frame(opcode, payload=b'', fin=True, rsv=0, mask=True, length=None, key=None):
    """One frame as bytes. `length` overrides the length field (payload is still written as is)."""
    if isinstance(payload, str):
        payload = payload.encode('utf-8')
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    n = len(payload) if length is None else length
    mbit = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, mbit | n])
    elif n < 65536:
        head = struct.pack('!BBH', b0, mbit | 126, n)
    else:
        head = struct.pack('!BBQ', b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = key if key is not None else os.urandom(4)
    return head + key + xor_mask(payload, key)


def close_payload(code=None, reason=b''):
    if code is None:
        return b''
    if isinstance(reason, str):
        reason = reason.encode('utf-8')
    return struct.pack('!H', code) + reason


class Chop:
    """Bytes written `size` bytes per send() (TCP_NODELAY, a short pause between writes)."""

    def __init__(self, data, size=1, pause=0.0005):
        self.data, self.size, self.pause = data, size, pause


class Pause:
    def __init__(self, seconds):
        self.seconds = seconds


# ------------------------------------------------------------------------------------------------
# A raw WebSocket client

class HandshakeError(Exception):
    pass


class Conn:
    def __init__(self, port, path='/dev', timeout=5.0):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b''
        self.eof = None           # None, 'FIN' or 'RST'
        self.frames = []          # every server frame: (fin, rsv, opcode, masked, length)
        self.partial = None       # (opcode, [chunks], nframes) of a fragmented server message
        key = base64.b64encode(os.urandom(16))
        req = (b'GET ' + path.encode() + b' HTTP/1.1\r\nHost: 127.0.0.1:' + str(port).encode() +
               b'\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ' + key +
               b'\r\nSec-WebSocket-Version: 13\r\nUser-Agent: wsgate-conformance/1.0\r\n\r\n')
        self.sock.sendall(req)
        deadline = time.monotonic() + timeout
        while b'\r\n\r\n' not in self.buf:
            chunk = self._recv(deadline)
            if not chunk:
                raise HandshakeError('connection closed during the handshake: %r' % self.buf[:200])
            self.buf += chunk
        head, self.buf = self.buf.split(b'\r\n\r\n', 1)
        lines = head.decode('latin-1').split('\r\n')
        if not lines[0].startswith('HTTP/1.1 101'):
            raise HandshakeError('handshake refused: %s' % lines[0])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(':')
            headers[name.strip().lower()] = value.strip()
        want = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
        if headers.get('sec-websocket-accept') != want:
            raise HandshakeError('bad Sec-WebSocket-Accept %r (want %r)' % (headers.get('sec-websocket-accept'), want))
        if headers.get('sec-websocket-extensions'):
            raise HandshakeError('server negotiated an extension nobody offered: %r' % headers['sec-websocket-extensions'])

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        self.sock.settimeout(left)
        return self.sock.recv(65536)

    def write(self, item):
        if isinstance(item, Pause):
            time.sleep(item.seconds)
        elif isinstance(item, Chop):
            for i in range(0, len(item.data), item.size):
                self.sock.sendall(item.data[i:i + item.size])
                if item.pause:
                    time.sleep(item.pause)
        else:
            self.sock.sendall(item)

    def send(self, *items):
        for item in items:
            try:
                self.write(item)
            except (BrokenPipeError, ConnectionResetError):
                return False   # the server may close before the whole probe is written
        return True

    def _parse_frame(self):
        """One complete frame from the buffer, or None."""
        b = self.buf
        if len(b) < 2:
            return None
        b0, b1 = b[0], b[1]
        n = b1 & 0x7F
        off = 2
        if n == 126:
            if len(b) < 4:
                return None
            n = struct.unpack('!H', b[2:4])[0]
            off = 4
        elif n == 127:
            if len(b) < 10:
                return None
            n = struct.unpack('!Q', b[2:10])[0]
            off = 10
        masked = bool(b1 & 0x80)
        key = None
        if masked:
            if len(b) < off + 4:
                return None
            key = b[off:off + 4]
            off += 4
        if len(b) < off + n:
            return None
        payload = b[off:off + n]
        if masked:
            payload = xor_mask(payload, key)
        self.buf = b[off + n:]
        return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, masked, payload

    def next_event(self, timeout=EVENT_TIMEOUT_S):
        """Next event: ('text'|'binary', payload, nframes), ('ping'|'pong', payload),
        ('close', code|None, reason bytes), ('eof', 'FIN'|'RST'), ('timeout',) or ('bad', what)."""
        deadline = time.monotonic() + timeout
        while True:
            f = self._parse_frame()
            if f is not None:
                fin, rsv, opcode, masked, payload = f
                self.frames.append((fin, rsv, opcode, masked, len(payload)))
                if masked:
                    return ('bad', 'server frame is masked (opcode %d)' % opcode)
                if rsv:
                    return ('bad', 'server frame has RSV=%d (opcode %d)' % (rsv, opcode))
                if opcode == OP_CLOSE:
                    if len(payload) == 0:
                        return ('close', None, b'')
                    if len(payload) == 1:
                        return ('bad', 'server close frame with a 1-byte payload')
                    return ('close', struct.unpack('!H', payload[:2])[0], payload[2:])
                if opcode in (OP_PING, OP_PONG):
                    if not fin or len(payload) > 125:
                        return ('bad', 'malformed control frame from server (opcode %d, fin %s, %d bytes)' % (opcode, fin, len(payload)))
                    return ('ping' if opcode == OP_PING else 'pong', payload)
                if opcode in (OP_TEXT, OP_BINARY):
                    if self.partial is not None:
                        return ('bad', 'server started a new message inside a fragmented one')
                    self.partial = (opcode, [payload], 1)
                elif opcode == OP_CONT:
                    if self.partial is None:
                        return ('bad', 'server sent a continuation frame with no message open')
                    op0, chunks, nf = self.partial
                    chunks.append(payload)
                    self.partial = (op0, chunks, nf + 1)
                else:
                    return ('bad', 'server sent reserved opcode %d' % opcode)
                if fin:
                    op0, chunks, nf = self.partial
                    self.partial = None
                    return ('text' if op0 == OP_TEXT else 'binary', b''.join(chunks), nf)
                continue
            if self.eof:
                return ('eof', self.eof)
            try:
                chunk = self._recv(deadline)
            except socket.timeout:
                return ('timeout',)
            except ConnectionResetError:
                self.eof = 'RST'
                continue
            if not chunk:
                self.eof = 'FIN'
                continue
            self.buf += chunk

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ------------------------------------------------------------------------------------------------
# Expectations

class Text:
    def __init__(self, payload):
        self.payload = payload.encode('utf-8') if isinstance(payload, str) else payload

    def matches(self, ev):
        return ev[0] == 'text' and ev[1] == self.payload

    def describe(self):
        return 'text(%s)' % short(self.payload)


class Pong:
    def __init__(self, payload):
        self.payload = payload.encode('utf-8') if isinstance(payload, str) else payload

    def matches(self, ev):
        return ev[0] == 'pong' and ev[1] == self.payload

    def describe(self):
        return 'pong(%s)' % short(self.payload)


class Close:
    """The server's close frame with one of `codes` (None = no status code), then the end of the
    TCP connection.

    reply=False (protocol failures, and closes the client started): the server must close TCP by
    itself within `fin_within` seconds; the probe sends nothing more.
    reply=True (a closing handshake the server starts, e.g. 1003): the probe answers with a close
    frame echoing the code, as an RFC 6455 client does, and the server must then close TCP."""

    def __init__(self, *codes, reason=None, reply=False, fin_within=FIN_TIMEOUT_S):
        self.codes = codes
        self.reason = reason
        self.reply = reply
        self.fin_within = fin_within

    def matches(self, ev):
        if ev[0] != 'close' or ev[1] not in self.codes:
            return False
        return self.reason is None or ev[2] == self.reason.encode('utf-8')

    def describe(self):
        codes = '|'.join('no-code' if c is None else str(c) for c in self.codes)
        reason = '' if self.reason is None else ' %r' % self.reason
        return 'close %s%s, %s' % (codes, reason, 'reply, TCP close' if self.reply else 'TCP close')


class Then:
    """Inside `writes`: wait for these server events (matched like `expect`) before writing on."""

    def __init__(self, *expect):
        self.expect = expect


def short(b, limit=24):
    if len(b) <= limit:
        try:
            s = b.decode('utf-8')
            return repr(s)
        except UnicodeDecodeError:
            return b.hex()
    return '%dB sha1:%s' % (len(b), hashlib.sha1(b).hexdigest()[:8])


def describe_event(ev):
    kind = ev[0]
    if kind == 'text':
        return 'text(%s)%s' % (short(ev[1]), '' if ev[2] == 1 else '[%d frames]' % ev[2])
    if kind == 'binary':
        return 'binary(%s)' % short(ev[1])
    if kind in ('ping', 'pong'):
        return '%s(%s)' % (kind, short(ev[1]))
    if kind == 'close':
        code = 'no-code' if ev[1] is None else str(ev[1])
        return 'close %s%s' % (code, ' %r' % ev[2].decode('utf-8', 'replace') if ev[2] else '')
    if kind == 'eof':
        return 'TCP ' + ev[1]
    if kind == 'timeout':
        return 'nothing'
    return 'BAD: ' + ev[1]


# ------------------------------------------------------------------------------------------------
# Gateways

class Gateway:
    def __init__(self, name, binary, config=None):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix='wsgate-conformance-')
        args = [binary, '--listen', '127.0.0.1:0', '--threads', '2']
        if config is not None:
            path = os.path.join(self.tmp, 'config.json')
            with open(path, 'w') as f:
                json.dump(config, f)
            args[1:1] = ['--config', path]
        self.stderr_path = os.path.join(self.tmp, 'stderr.log')
        self.stderr = open(self.stderr_path, 'wb')
        deadline = time.monotonic() + 20
        transient = (errno.ETXTBSY, errno.EACCES, errno.ENOEXEC) + ((errno.ENOENT,) if BINARY_EXISTED else ())
        while True:   # the binary may be mid-relink while someone rebuilds it
            try:
                self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.stderr, stdin=subprocess.DEVNULL)
                break
            except OSError as e:
                if e.errno not in transient or time.monotonic() > deadline:
                    raise RuntimeError('cannot start %s: %s (set WSGATE_BIN)' % (binary, e))
                time.sleep(0.25)
        line = b''
        end = time.monotonic() + 10
        while not line.endswith(b'\n'):
            left = end - time.monotonic()
            r, _, _ = select.select([self.proc.stdout], [], [], max(left, 0))
            if not r:
                self.proc.kill()
                raise RuntimeError('%s gateway printed no banner in 10 s; stderr: %s' % (name, self.stderr_text()))
            c = os.read(self.proc.stdout.fileno(), 1)
            if not c:
                raise RuntimeError('%s gateway exited before its banner (code %s); stderr: %s' % (name, self.proc.wait(), self.stderr_text()))
            line += c
        banner = line.decode().strip()
        try:
            self.port = int(banner.rsplit(':', 1)[1])
        except (IndexError, ValueError):
            self.proc.kill()
            raise RuntimeError('unexpected banner %r' % banner)
        self.banner = banner
        # Keep reading stdout so the banner's remaining lines never block the process.
        self.stdout_fd = self.proc.stdout.fileno()
        os.set_blocking(self.stdout_fd, False)

    def stderr_text(self):
        try:
            with open(self.stderr_path, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def drain_stdout(self):
        try:
            while os.read(self.stdout_fd, 65536):
                pass
        except (BlockingIOError, OSError):
            pass

    def stop(self, timeout=15):
        """SIGTERM; returns the exit code (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        self.stderr.close()
        return code


# ------------------------------------------------------------------------------------------------
# Cases

ECHO_CONFIG_LIMITS = {
    'threads': 2,
    'routes': {'$default': {'integration': 'echo', 'route_response': True}},
    'connection': {'max_message_bytes': LIMIT, 'handshake_timeout_ms': 1000},
}

# Frames above AWS's 32 KB frame quota are refused on the default gateway; the framing cases that
# need large single frames run on a gateway whose frame limit equals its message limit.
ECHO_CONFIG_BIGFRAMES = {
    'threads': 2,
    'routes': {'$default': {'integration': 'echo', 'route_response': True}},
    'connection': {'max_frame_bytes': 131072},
}

GATEWAY_CONFIGS = {'main': None, 'limits': ECHO_CONFIG_LIMITS, 'bigframes': ECHO_CONFIG_BIGFRAMES}

CASES = []


def case(cid, category, title, writes, expect, gw='main', bystander=None):
    """writes: bytes / Chop / Pause items sent in order right after the handshake.
    expect: the exact sequence of server events; a Close must be the last one (the server's TCP
    close is then required too). bystander (default: whenever a Close is expected): afterwards,
    another client must still get echoes from the same gateway."""
    if bystander is None:
        bystander = any(isinstance(e, Close) for e in expect)
    CASES.append(dict(id=cid, category=category, title=title, writes=writes, expect=expect, gw=gw, bystander=bystander))


def T(p):
    return frame(OP_TEXT, p)


def ascii_payload(n, seed=1):
    out = bytearray(n)
    x = seed or 1
    for i in range(n):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = 0x21 + (x % 94)
    return bytes(out)


KOSME = 'κόσμε'.encode('utf-8')               # ce ba e1 bd b9 cf 83 ce bc ce b5
MULTI = 'Hello-µ@ßöäüàá-UTF-8!! κόσμε 中文 𝄞 😀'.encode('utf-8')

# --- framing ----------------------------------------------------------------------------------
case('F01', 'framing', 'empty text frame (0 bytes) is echoed', [T(b'')], [Text(b'')])
case('F02', 'framing', '125-byte text (largest 7-bit length) echoed', [T(ascii_payload(125, 2))], [Text(ascii_payload(125, 2))])
case('F03', 'framing', '126-byte text (smallest 16-bit length) echoed', [T(ascii_payload(126, 3))], [Text(ascii_payload(126, 3))])
case('F04', 'framing', '65535-byte text (largest 16-bit length) echoed', [T(ascii_payload(65535, 4))], [Text(ascii_payload(65535, 4))], gw='bigframes')
case('F05', 'framing', '65536-byte text (64-bit length) echoed', [T(ascii_payload(65536, 5))], [Text(ascii_payload(65536, 5))], gw='bigframes')
case('F06', 'framing', '100000-byte text (64-bit length) echoed', [T(ascii_payload(100000, 6))], [Text(ascii_payload(100000, 6))], gw='bigframes')
case('F07', 'framing', 'text frame written 1 byte per TCP write (chopsize 1)', [Chop(T(b'chopped into single bytes'))], [Text(b'chopped into single bytes')])
case('F08', 'framing', '300-byte text (16-bit length) written 1 byte per TCP write', [Chop(T(ascii_payload(300, 8)))], [Text(ascii_payload(300, 8))])
case('F09', 'framing', 'three text frames in one TCP write -> three echoes, in order', [T(b'one') + T(b'two') + T(b'three')], [Text(b'one'), Text(b'two'), Text(b'three')])
case('F10', 'framing', 'unmasked client text frame -> 1002', [frame(OP_TEXT, b'not masked', mask=False)], [Close(1002)])
case('F11', 'framing', 'unmasked client ping -> 1002', [frame(OP_PING, b'not masked', mask=False)], [Close(1002)])
for i, rsv in enumerate((4, 2, 1, 7)):
    name = {4: 'RSV1', 2: 'RSV2', 1: 'RSV3', 7: 'RSV1+2+3'}[rsv]
    case('F%02d' % (12 + i), 'framing', 'text frame with %s set (no extension negotiated) -> 1002' % name, [frame(OP_TEXT, b'reserved bits', rsv=rsv)], [Close(1002)])
case('F16', 'framing', 'ping with RSV3 set -> 1002', [frame(OP_PING, b'x', rsv=1)], [Close(1002)])
case('F17', 'framing', 'echoed text, then text with RSV2 -> echo then 1002', [T(b'first'), frame(OP_TEXT, b'second', rsv=2)], [Text(b'first'), Close(1002)])
for i, op in enumerate((3, 4, 5, 6, 7, 11, 12, 13, 14, 15)):
    case('F%02d' % (18 + i), 'framing', 'reserved opcode %d -> 1002' % op, [frame(op, b'reserved opcode')], [Close(1002)])

# --- control frames ----------------------------------------------------------------------------
case('C01', 'control', 'ping "hello" -> pong "hello"', [frame(OP_PING, b'hello')], [Pong(b'hello')])
case('C02', 'control', 'ping with empty payload -> empty pong', [frame(OP_PING, b'')], [Pong(b'')])
case('C03', 'control', 'ping with 125 bytes of binary payload -> pong with the same bytes', [frame(OP_PING, bytes(range(125)))], [Pong(bytes(range(125)))])
case('C04', 'control', 'ping with 126 bytes -> 1002', [frame(OP_PING, b'p' * 126)], [Close(1002)])
case('C05', 'control', 'fragmented ping (FIN=0, then continuation) -> 1002', [frame(OP_PING, b'frag', fin=False), frame(OP_CONT, b'ment')], [Close(1002)])
case('C06', 'control', 'unsolicited pong ignored; the next text is echoed', [frame(OP_PONG, b'unsolicited'), T(b'after pong')], [Text(b'after pong')])
case('C07', 'control', 'unsolicited empty pong then 125-byte pong ignored', [frame(OP_PONG, b''), frame(OP_PONG, b'q' * 125), T(b'still here')], [Text(b'still here')])
case('C08', 'control', 'pong with 126 bytes -> 1002', [frame(OP_PONG, b'q' * 126)], [Close(1002)])
case('C09', 'control', 'ping between 2 fragments of a text -> pong, then the reassembled echo',
     [frame(OP_TEXT, b'frag-one ', fin=False), frame(OP_PING, b'mid'), frame(OP_CONT, b'frag-two')],
     [Pong(b'mid'), Text(b'frag-one frag-two')])
case('C10', 'control', 'pong and pings between 3 fragments -> pongs, then the echo',
     [frame(OP_TEXT, b'a', fin=False), frame(OP_PONG, b'ignored'), frame(OP_CONT, b'b', fin=False), frame(OP_PING, b'p1'),
      frame(OP_PING, b'p2'), frame(OP_CONT, b'c')],
     [Pong(b'p1'), Pong(b'p2'), Text(b'abc')])
case('C11', 'control', '10 pings in one TCP write -> 10 pongs in order',
     [b''.join(frame(OP_PING, b'ping-%d' % i) for i in range(10))], [Pong(b'ping-%d' % i) for i in range(10)])
case('C12', 'control', 'ping written 1 byte per TCP write -> pong', [Chop(frame(OP_PING, b'slow ping'))], [Pong(b'slow ping')])

# --- fragmentation ---------------------------------------------------------------------------
case('G01', 'fragmentation', 'text in 2 fragments -> one echo', [frame(OP_TEXT, b'Hello, ', fin=False), frame(OP_CONT, b'world')], [Text(b'Hello, world')])
case('G02', 'fragmentation', 'text in 3 fragments -> one echo',
     [frame(OP_TEXT, b'one ', fin=False), frame(OP_CONT, b'two ', fin=False), frame(OP_CONT, b'three')], [Text(b'one two three')])
case('G03', 'fragmentation', 'text in 100 one-byte fragments -> one echo',
     [b''.join(frame(OP_TEXT if i == 0 else OP_CONT, ascii_payload(100, 9)[i:i + 1], fin=(i == 99)) for i in range(100))],
     [Text(ascii_payload(100, 9))])
case('G04', 'fragmentation', 'text in 3 empty fragments -> empty echo',
     [frame(OP_TEXT, b'', fin=False), frame(OP_CONT, b'', fin=False), frame(OP_CONT, b'')], [Text(b'')])
case('G05', 'fragmentation', '70000-byte text in fragments of 16-bit and 64-bit sizes -> one echo',
     [frame(OP_TEXT, ascii_payload(70000, 10)[:100], fin=False), frame(OP_CONT, ascii_payload(70000, 10)[100:65636], fin=False),
      frame(OP_CONT, ascii_payload(70000, 10)[65636:])],
     [Text(ascii_payload(70000, 10))], gw='bigframes')
case('G06', 'fragmentation', 'fragments with pauses between TCP writes -> one echo',
     [frame(OP_TEXT, b'slow ', fin=False), Pause(0.05), frame(OP_CONT, b'fragmented ', fin=False), Pause(0.05), frame(OP_CONT, b'text')],
     [Text(b'slow fragmented text')])
case('G07', 'fragmentation', 'continuation frame with no message started (FIN=1) -> 1002', [frame(OP_CONT, b'orphan')], [Close(1002)])
case('G08', 'fragmentation', 'continuation frame with no message started (FIN=0) -> 1002',
     [frame(OP_CONT, b'orphan', fin=False), frame(OP_CONT, b'orphan')], [Close(1002)])
case('G09', 'fragmentation', 'new text frame while a fragmented text is open -> 1002',
     [frame(OP_TEXT, b'open ', fin=False), frame(OP_TEXT, b'again')], [Close(1002)])
case('G10', 'fragmentation', 'text (FIN=1), then a continuation -> echo, then 1002', [T(b'complete'), frame(OP_CONT, b'stray')], [Text(b'complete'), Close(1002)])
case('G11', 'fragmentation', 'close while a fragmented text is open -> close 1000, no echo',
     [frame(OP_TEXT, b'never ', fin=False), frame(OP_CLOSE, close_payload(1000))], [Close(1000)])
case('G12', 'fragmentation', 'new binary frame while a fragmented text is open -> 1002',
     [frame(OP_TEXT, b'open ', fin=False), frame(OP_BINARY, b'\x00')], [Close(1002)])

# --- UTF-8 ----------------------------------------------------------------------------------------
case('U01', 'utf8', 'valid 2/3/4-byte UTF-8 echoed byte for byte', [T(MULTI)], [Text(MULTI)])
case('U02', 'utf8', 'valid text split inside multi-byte characters across fragments -> echo',
     [frame(OP_TEXT, MULTI[:8], fin=False), frame(OP_CONT, MULTI[8:35], fin=False), frame(OP_CONT, MULTI[35:])], [Text(MULTI)])
case('U03', 'utf8', 'valid text, one fragment per byte -> echo',
     [b''.join(frame(OP_TEXT if i == 0 else OP_CONT, KOSME[i:i + 1], fin=(i == len(KOSME) - 1)) for i in range(len(KOSME)))], [Text(KOSME)])
case('U04', 'utf8', 'U+FFFF, U+10FFFF and U+FEFF are valid -> echo',
     [T('\uffff\U0010ffff\ufeff'.encode('utf-8'))], [Text('\uffff\U0010ffff\ufeff'.encode('utf-8'))])
case('U05', 'utf8', 'UTF-16 surrogate (ED A0 80) in one frame -> 1007', [T(KOSME + b'\xed\xa0\x80edited')], [Close(1007)])
case('U06', 'utf8', 'overlong encoding (C0 AF) in one frame -> 1007', [T(b'ab\xc0\xafcd')], [Close(1007)])
case('U07', 'utf8', 'byte F5 / code point above U+10FFFF (F4 90 80 80) -> 1007', [T(b'x\xf4\x90\x80\x80y')], [Close(1007)])
case('U08', 'utf8', 'lone continuation byte 0x80 -> 1007', [T(b'\x80')], [Close(1007)])
case('U09', 'utf8', 'invalid sequence split across fragments (F4 | 90 80 80) -> 1007',
     [frame(OP_TEXT, KOSME + b'\xf4', fin=False), frame(OP_CONT, b'\x90\x80\x80' + KOSME)], [Close(1007)])
case('U10', 'utf8', 'invalid byte in a non-final fragment (fail fast, FIN never sent) -> 1007',
     [frame(OP_TEXT, KOSME, fin=False), frame(OP_CONT, b'\xff', fin=False)], [Close(1007)])
case('U11', 'utf8', 'truncated sequence (E2 82) at the end of the final fragment -> 1007',
     [frame(OP_TEXT, KOSME, fin=False), frame(OP_CONT, b'euro \xe2\x82')], [Close(1007)])
case('U12', 'utf8', 'truncated sequence (CE) at the end of a single frame -> 1007', [T(b'kappa \xce')], [Close(1007)])
case('U13', 'utf8', 'close reason with invalid UTF-8 -> 1007 (1002 also allowed by RFC)',
     [frame(OP_CLOSE, close_payload(1000, b'bad \xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited'))], [Close(1007, 1002)])

# --- close ----------------------------------------------------------------------------------------
case('X01', 'close', 'close 1000 -> close 1000, server closes TCP', [frame(OP_CLOSE, close_payload(1000))], [Close(1000)])
case('X02', 'close', 'close with empty payload -> close (no code or 1000)', [frame(OP_CLOSE, b'')], [Close(None, 1000)])
case('X03', 'close', 'close with a 1-byte payload -> 1002', [frame(OP_CLOSE, b'\x03')], [Close(1002)])
for i, code in enumerate((0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999)):
    case('X%02d' % (4 + i), 'close', 'close code %d (invalid on the wire) -> 1002' % code, [frame(OP_CLOSE, close_payload(code))], [Close(1002)])
# RFC 6455 defines no code above 4999; Autobahn 7.13.1/7.13.2 call the answer "undefined by the spec"
# (informational) and accept 1000, the echoed code or 1002. Only a clean close is required here.
for i, code in enumerate((5000, 65535)):
    case('X%02d' % (14 + i), 'close', 'close code %d (undefined by RFC) -> close 1000, %d or 1002' % (code, code),
         [frame(OP_CLOSE, close_payload(code))], [Close(1000, code, 1002)])
for i, code in enumerate((1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999)):
    case('X%02d' % (16 + i), 'close', 'close code %d (valid) -> echoed back' % code, [frame(OP_CLOSE, close_payload(code))], [Close(code)], bystander=False)
case('X28', 'close', 'close 1000 with a 123-byte reason (125-byte frame) -> close 1000', [frame(OP_CLOSE, close_payload(1000, b'r' * 123))], [Close(1000)])
case('X29', 'close', 'close 1000 with a 124-byte reason (126-byte control frame) -> 1002', [frame(OP_CLOSE, close_payload(1000, b'r' * 124))], [Close(1002)])
case('X30', 'close', 'fragmented close (FIN=0) -> 1002', [frame(OP_CLOSE, close_payload(1000), fin=False)], [Close(1002)])
case('X31', 'close', 'text, ping and close after our close are ignored -> one close 1000',
     [frame(OP_CLOSE, close_payload(1000)) + T(b'after close') + frame(OP_PING, b'after close') + frame(OP_CLOSE, close_payload(1000))], [Close(1000)])
case('X32', 'close', 'text echoed, then close 1000 -> echo, close 1000', [T(b'bye soon') + frame(OP_CLOSE, close_payload(1000, b'done'))], [Text(b'bye soon'), Close(1000)])
case('X33', 'close', 'close written 1 byte per TCP write -> close 3000', [Chop(frame(OP_CLOSE, close_payload(3000, b'chopped')))], [Close(3000)])

# --- binary (AWS: not supported -> 1003) ----------------------------------------------------------
case('B01', 'binary', 'binary frame -> 1003', [frame(OP_BINARY, b'\x00\x01\x02\xff')], [Close(1003, reply=True)])
case('B02', 'binary', 'empty binary frame -> 1003', [frame(OP_BINARY, b'')], [Close(1003, reply=True)])
case('B03', 'binary', 'fragmented binary message -> 1003', [frame(OP_BINARY, b'\x00\x01', fin=False), frame(OP_CONT, b'\x02')], [Close(1003, reply=True)])
case('B04', 'binary', 'binary frame holding valid UTF-8 text -> 1003 (opcode decides)', [frame(OP_BINARY, b'{"action":"x"}')], [Close(1003, reply=True)])
case('B05', 'binary', 'text echoed, then binary -> echo, 1003', [T(b'text first'), frame(OP_BINARY, b'\xde\xad')], [Text(b'text first'), Close(1003, reply=True)])
case('B06', 'binary', 'binary then text in one write -> 1003, the text is not echoed after the close',
     [frame(OP_BINARY, b'\x01') + T(b'must not be echoed')], [Close(1003, reply=True)])
case('B07', 'binary', '1003 close never answered by the client -> server drops TCP (handshake_timeout_ms 1000)',
     [frame(OP_BINARY, b'\x01')], [Close(1003, fin_within=3.0)], gw='limits')
case('B08', 'binary', 'binary frame written 1 byte per TCP write -> 1003', [Chop(frame(OP_BINARY, b'\x00\xff'))], [Close(1003, reply=True)])

# --- limits (gateway 'limits': max_message_bytes 4096) ------------------------------------------
BIG = ascii_payload(LIMIT + 1, 11)
case('L01', 'limits', 'exactly max_message_bytes (4096) in one frame -> echo', [T(BIG[:LIMIT])], [Text(BIG[:LIMIT])], gw='limits')
case('L02', 'limits', 'exactly 4096 in 4 fragments -> echo',
     [frame(OP_TEXT, BIG[:1024], fin=False), frame(OP_CONT, BIG[1024:2048], fin=False), frame(OP_CONT, BIG[2048:3072], fin=False),
      frame(OP_CONT, BIG[3072:LIMIT])], [Text(BIG[:LIMIT])], gw='limits')
case('L03', 'limits', 'exactly 4096 of 3-byte characters split mid-character -> echo',
     [frame(OP_TEXT, ('€' * 1365).encode()[:1000], fin=False), frame(OP_CONT, ('€' * 1365).encode()[1000:] + b'a')],
     [Text(('€' * 1365).encode() + b'a')], gw='limits')
case('L04', 'limits', 'max+1 (4097) in one frame -> 1009', [T(BIG)], [Close(1009)], gw='limits')
case('L05', 'limits', 'max+1 as fragments 4096 + 1 -> 1009', [frame(OP_TEXT, BIG[:LIMIT], fin=False), frame(OP_CONT, BIG[LIMIT:])], [Close(1009)], gw='limits')
case('L06', 'limits', 'max+1 as fragments 2000 + 2000 + 97 -> 1009',
     [frame(OP_TEXT, BIG[:2000], fin=False), frame(OP_CONT, BIG[2000:4000], fin=False), frame(OP_CONT, BIG[4000:])], [Close(1009)], gw='limits')
case('L07', 'limits', 'max+1 in 4097 one-byte fragments -> 1009',
     [b''.join(frame(OP_TEXT if i == 0 else OP_CONT, BIG[i:i + 1], fin=(i == LIMIT)) for i in range(LIMIT + 1))], [Close(1009)], gw='limits')
case('L08', 'limits', 'header announcing 2^40 bytes -> 1009 at once (payload never sent)',
     [frame(OP_TEXT, b'abc', length=1 << 40)], [Close(1009)], gw='limits')
case('L09', 'limits', 'max+1 in one frame, but binary -> 1003 or 1009', [frame(OP_BINARY, BIG)], [Close(1003, 1009)], gw='limits')
case('L10', 'limits', 'default limit (main gateway): 131072 echoed, then 131073 -> 1009',
     [T(ascii_payload(131072, 12)), Then(Text(ascii_payload(131072, 12))), T(ascii_payload(131073, 13))], [Close(1009)],
     gw='bigframes')
case('L12', 'limits', 'default frame limit: a 32768-byte frame is echoed', [T(ascii_payload(32768, 14))], [Text(ascii_payload(32768, 14))])
case('L13', 'limits', 'default frame limit: a 32769-byte frame -> 1009 "Message too big" (AWS 32 KB frame quota)',
     [T(ascii_payload(32769, 15))], [Close(1009, reason='Message too big')])
case('L14', 'limits', 'default limits: 131072 bytes as four 32 KiB fragments -> one echo',
     [frame(OP_TEXT, ascii_payload(131072, 16)[:32768], fin=False),
      frame(OP_CONT, ascii_payload(131072, 16)[32768:65536], fin=False),
      frame(OP_CONT, ascii_payload(131072, 16)[65536:98304], fin=False),
      frame(OP_CONT, ascii_payload(131072, 16)[98304:])], [Text(ascii_payload(131072, 16))])
case('L15', 'limits', 'default limits: 131073 bytes in 32 KiB fragments -> 1009',
     [frame(OP_TEXT, ascii_payload(131073, 17)[:32768], fin=False),
      frame(OP_CONT, ascii_payload(131073, 17)[32768:65536], fin=False),
      frame(OP_CONT, ascii_payload(131073, 17)[65536:98304], fin=False),
      frame(OP_CONT, ascii_payload(131073, 17)[98304:131072], fin=False),
      frame(OP_CONT, ascii_payload(131073, 17)[131072:])], [Close(1009, reason='Message too big')])
case('L11', 'limits', '1009 close carries the reason "Message too big" (contract 6)', [T(BIG)], [Close(1009, reason='Message too big')], gw='limits')


# ------------------------------------------------------------------------------------------------
# Running

def expect_events(conn, expectations, observed):
    """Matches the next server events against `expectations`. Returns (ok, note, closed)."""
    for exp in expectations:
        ev = conn.next_event()
        observed.append(ev)
        if not exp.matches(ev):
            # Record what follows, for the report.
            while ev[0] not in ('eof', 'timeout', 'bad') and len(observed) < 8:
                ev = conn.next_event(timeout=1.0)
                observed.append(ev)
            return False, '', True
        if isinstance(exp, Close):
            code = ev[1]
            if exp.reply:
                conn.send(frame(OP_CLOSE, close_payload(code)))
            ev = conn.next_event(timeout=exp.fin_within)
            observed.append(ev)
            if ev[0] == 'eof':
                return True, '', True
            note = ''
            if ev[0] == 'timeout' and not exp.reply:
                # Would it close after the client's close reply? (Tells "waits for the client" from "never".)
                conn.send(frame(OP_CLOSE, close_payload(code)))
                ev2 = conn.next_event(timeout=FIN_TIMEOUT_S)
                note = 'TCP still open %.1f s after the server\'s close frame; after the client\'s close reply: %s' % (
                    exp.fin_within, describe_event(ev2))
            return False, note, True
    return True, '', False


def run_case(c, port):
    """Returns (ok, observed description, note)."""
    try:
        conn = Conn(port)
    except (OSError, HandshakeError) as e:
        return False, 'handshake failed: %s' % e, ''
    observed = []
    try:
        ok, note, closed = True, '', False
        for item in c['writes']:
            if isinstance(item, Then):
                ok, note, closed = expect_events(conn, item.expect, observed)
                if not ok or closed:
                    break
            else:
                conn.send(item)
        if ok and not closed:
            ok, note, closed = expect_events(conn, c['expect'], observed)
        if ok and not closed:
            # Echo-only case: nothing else may arrive; then the client closes cleanly.
            ev = conn.next_event(timeout=0.05)
            if ev[0] != 'timeout':
                observed.append(ev)
                ok = False
            else:
                conn.send(frame(OP_CLOSE, close_payload(1000)))
                ev = conn.next_event(timeout=1.0)
                if not (ev[0] == 'close' and ev[1] == 1000):
                    ok = False
                    note = 'clean close after the echo answered %s' % describe_event(ev)
    finally:
        conn.close()
    return ok, ', '.join(describe_event(e) for e in observed), note


def echo_check(port, tag, conn=None):
    """A message echoed on `conn` (or a fresh connection). Returns (ok, what)."""
    fresh = conn is None
    try:
        if fresh:
            conn = Conn(port)
        payload = ('still serving %s' % tag).encode()
        if not conn.send(frame(OP_TEXT, payload)):
            return False, 'write failed'
        ev = conn.next_event()
        if ev[0] == 'text' and ev[1] == payload:
            return True, 'ok'
        return False, describe_event(ev)
    except (OSError, HandshakeError) as e:
        return False, str(e)
    finally:
        if fresh and conn is not None:
            conn.send(frame(OP_CLOSE, close_payload(1000)))
            conn.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--only', help='run only cases whose id or title contains this text')
    ap.add_argument('--json', help='also write the results as JSON to this file')
    ap.add_argument('-v', '--verbose', action='store_true', help='print each result as it is known')
    args = ap.parse_args()

    started = time.monotonic()
    binary = os.environ.get('WSGATE_BIN') or 'build/release/src/app/wsgate'
    if not os.path.isabs(binary):
        binary = os.path.join(REPO_ROOT, binary)
    global BINARY_EXISTED
    BINARY_EXISTED = os.path.exists(binary)
    cases = [c for c in CASES if not args.only or args.only in c['id'] or args.only.lower() in c['title'].lower()]
    ids = [c['id'] for c in CASES]
    assert len(ids) == len(set(ids)), 'duplicate case ids'

    gws = {}
    results = []
    try:
        gws['main'] = Gateway('main', binary)
        for name, config in GATEWAY_CONFIGS.items():
            if name != 'main' and any(c['gw'] == name for c in cases):
                gws[name] = Gateway(name, binary, config)
        bystanders = {name: Conn(gw.port) for name, gw in gws.items()}

        for c in cases:
            if time.monotonic() - started > SUITE_BUDGET_S:
                results.append(dict(c, ok=False, observed='not run: suite budget of %.0f s spent' % SUITE_BUDGET_S, note='', secs=0.0))
                continue
            gw = gws[c['gw']]
            t0 = time.monotonic()
            ok, observed, note = run_case(c, gw.port)
            if c['bystander']:
                b_ok, b_what = echo_check(gw.port, c['id'], bystanders[c['gw']])
                f_ok, f_what = echo_check(gw.port, c['id'])
                if not (b_ok and f_ok):
                    ok = False
                    note = (note + '; ' if note else '') + 'other clients afterwards: open one %s, new one %s' % (b_what, f_what)
                else:
                    observed += '; others still echoed'
            if gw.proc.poll() is not None:
                ok = False
                note = (note + '; ' if note else '') + 'gateway exited with code %s' % gw.proc.returncode
            r = dict(c, ok=ok, observed=observed, note=note, secs=time.monotonic() - t0)
            results.append(r)
            if args.verbose:
                print('%s %s %s -> %s %s' % ('PASS' if ok else 'FAIL', c['id'], c['title'], observed, note), flush=True)
            if gw.proc.poll() is not None:
                gws[c['gw']] = Gateway(c['gw'], binary, GATEWAY_CONFIGS[c['gw']])
                bystanders[c['gw']] = Conn(gws[c['gw']].port)
        for b in bystanders.values():
            b.send(frame(OP_CLOSE, close_payload(1000)))
            b.close()
    except (RuntimeError, OSError, HandshakeError) as e:
        print('run_probes: %s' % e, file=sys.stderr)
        for gw in gws.values():
            gw.proc.kill()
        return 2
    finally:
        exits = {}
        for name, gw in gws.items():
            gw.drain_stdout()
            exits[name] = gw.stop()

    for name, code in exits.items():
        results.append(dict(id='Z-%s' % name, category='process', title='%s gateway exits 0 on SIGTERM after the suite' % name,
                            expect=[], ok=(code == 0), observed='exit code %s' % code, note='', secs=0.0))

    print_table(results)
    failed = [r for r in results if not r['ok']]
    total = time.monotonic() - started
    print()
    for r in failed:
        if r['category'] != 'process':
            print('FAILED %s (%s): %s' % (r['id'], r['title'], r['note'] or 'see table'))
    if failed:
        for name, gw in gws.items():
            print('\n--- %s gateway stderr (tail) ---\n%s' % (name, gw.stderr_text()[-3000:]))
    print('%d passed, %d failed' % (len(results) - len(failed), len(failed)))
    print('suite time: %.2f s' % total)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump([{k: r[k] for k in ('id', 'category', 'title', 'ok', 'observed', 'note', 'secs')} |
                       {'expected': expected_text(r)} for r in results], f, indent=1)
    if total > 60:
        print('suite exceeded 60 s', file=sys.stderr)
        return 1
    return 1 if failed else 0


def expected_text(r):
    exps = [e for w in r.get('writes', []) if isinstance(w, Then) for e in w.expect] + list(r['expect'])
    return ', '.join(e.describe() for e in exps) or 'exit code 0'


def print_table(results):
    rows = [('ID', 'RESULT', 'CASE', 'EXPECTED', 'OBSERVED')]
    for r in results:
        observed = r['observed'] + (' [%s]' % r['note'] if r['note'] else '')
        rows.append((r['id'], 'PASS' if r['ok'] else 'FAIL', r['title'], expected_text(r), observed))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    widths[2] = min(widths[2], 70)
    widths[3] = min(widths[3], 48)
    for row in rows:
        cells = [row[i][:widths[i]].ljust(widths[i]) for i in range(4)] + [row[4]]
        print('  '.join(cells).rstrip())


if __name__ == '__main__':
    sys.exit(main())

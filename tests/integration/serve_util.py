"""Helpers for the integration tests of `rtsp-harness serve` (docs/serve.md).

Everything here is independent of the C code: the server is driven over
sockets, its RTP is parsed and reassembled per RFC 3550 / RFC 2435 in
Python, and what arrives is compared with the JPEG frames of the media file.

- Server: start `serve` on --port 0, wait for `ready`, parse `stream` lines,
  stop with SIGTERM (exit status 0 expected).
- RtspConn: raw RTSP/1.0 requests and responses over one TCP connection,
  with TCP interleaved `$` frames collected on the side.
- UdpPair: an even/odd UDP port pair receiving RTP and RTCP in a thread.
- parse_rtp, parse_rtcp, assemble_jpeg_frames, Media: the checks.
"""
import base64
import collections
import hashlib
import os
import pathlib
import re
import select
import signal
import socket
import struct
import subprocess
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
MOVIE = FIXTURES / "movie.Mjpeg"
LAB_CLIENT = FIXTURES / "lab_client.py"

STREAM_RE = re.compile(r"^stream (\S+) (rtsp://(\S+?):(\d+)/\S*) frames=(\d+) size=(\d+)x(\d+) fps=(\S+)$")
HTTP_RE = re.compile(r"^http (http://(\S+?):(\d+)/)$")
READY_RE = re.compile(r"^ready (rtsp://(\S+?):(\d+)/)$")


# --------------------------------------------------------------------------
# the server process

class Server:
    """One `rtsp-harness serve` process, stdout and stderr going to files."""

    _count = 0

    def __init__(self, binary, args, workdir, env=None):
        Server._count += 1
        n = Server._count
        self.args = [str(a) for a in args]
        self.workdir = pathlib.Path(workdir)
        self.out_path = self.workdir / f"serve-{n}.stdout"
        self.err_path = self.workdir / f"serve-{n}.stderr"
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen([binary, "serve", *self.args], stdin=subprocess.DEVNULL,
                                     stdout=self._out, stderr=self._err, env=env)
        self.streams = {}
        self.http_url = None
        self.ready_url = None
        self.host = None
        self.port = None
        self.http_port = None
        self.startup_seconds = None
        self.stopped = False
        self.returncode = None

    # -- output
    def stdout_text(self):
        return self.out_path.read_bytes().decode(errors="replace")

    def stderr_text(self):
        return self.err_path.read_bytes().decode(errors="replace")

    def stderr_lines(self):
        return self.stderr_text().splitlines()

    def describe(self):
        return (f"serve {' '.join(self.args)}\n--- stdout\n{self.stdout_text()}"
                f"--- stderr (last 3000 chars)\n{self.stderr_text()[-3000:]}")

    def wait_ready(self, timeout=5.0):
        """Waits for the `ready` line; parses the start-up output."""
        deadline = self.t_start + timeout
        while True:
            text = self.stdout_text()
            if any(line.startswith("ready ") for line in text.splitlines()):
                self.startup_seconds = time.monotonic() - self.t_start
                break
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode} before `ready`\n"
                                     + self.describe())
            if time.monotonic() > deadline:
                raise AssertionError(f"no `ready` line within {timeout} s\n" + self.describe())
            time.sleep(0.005)
        for line in text.splitlines():
            m = STREAM_RE.match(line)
            if m:
                self.streams[m.group(1)] = {
                    "name": m.group(1), "url": m.group(2), "host": m.group(3),
                    "port": int(m.group(4)), "frames": int(m.group(5)),
                    "width": int(m.group(6)), "height": int(m.group(7)),
                    "fps": float(m.group(8)), "line": line}
                continue
            m = HTTP_RE.match(line)
            if m:
                self.http_url = m.group(1)
                self.http_port = int(m.group(3))
                continue
            m = READY_RE.match(line)
            if m:
                self.ready_url = m.group(1)
                self.host = m.group(2)
                self.port = int(m.group(3))
        if self.ready_url is None:
            raise AssertionError("malformed `ready` line\n" + self.describe())
        return self

    # -- life cycle
    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Signals the server and waits; returns the exit status."""
        if not self.stopped:
            self.stopped = True
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
            try:
                self.returncode = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                self.returncode = f"did not exit within {timeout} s of signal {int(sig)}"
            self._out.close()
            self._err.close()
        return self.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.stopped = True

    # -- addresses
    def url(self, name=""):
        return f"rtsp://{self.host}:{self.port}/{name}"

    def connect(self, timeout=3.0, **kw):
        return RtspConn(self.host, self.port, timeout=timeout, **kw)

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))


# --------------------------------------------------------------------------
# RTSP over TCP

class Response:
    def __init__(self, raw, start_line, headers, body, t):
        self.raw = raw
        self.t = t
        self.start_line = start_line
        parts = start_line.split(" ", 2)
        self.version = parts[0]
        try:
            self.status = int(parts[1])
        except (IndexError, ValueError):
            self.status = None
        self.reason = parts[2] if len(parts) > 2 else ""
        self.headers = headers  # list of (name, value)
        self.body = body

    def get(self, name, default=None):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def get_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def cseq(self):
        v = self.get("CSeq")
        return int(v) if v is not None and v.strip().isdigit() else v

    @property
    def session(self):
        v = self.get("Session")
        return v.split(";")[0].strip() if v is not None else None

    def __repr__(self):
        text = self.raw.decode(errors="replace")
        return f"<Response {text[:1500]!r}>"


class ConnectionClosed(AssertionError):
    pass


class RtspConn:
    """One RTSP connection. request() sends and reads the reply (and checks
    that CSeq is echoed); `$` frames met while reading are kept in
    self.interleaved as (time, channel, data)."""

    def __init__(self, host, port, timeout=3.0, rcvbuf=None):
        self.host, self.port = host, port
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.buf = bytearray()
        self.cseq = 0
        self.interleaved = []
        self.eof = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def build(self, method, url, headers=(), body=b"", cseq=None, session=None):
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        if isinstance(headers, dict):
            headers = list(headers.items())
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {cseq}"]
        if session is not None:
            lines.append(f"Session: {session}")
        lines += [f"{k}: {v}" for k, v in headers]
        if isinstance(body, str):
            body = body.encode()
        if body:
            lines.append(f"Content-Length: {len(body)}")
        lines.append("User-Agent: rtsp-harness-integration-tests")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body, cseq

    def request(self, method, url, headers=(), body=b"", session=None, cseq=None,
                timeout=None, check_cseq=True):
        msg, cseq = self.build(method, url, headers, body, cseq, session)
        self.send(msg)
        resp = self.read_response(timeout)
        if check_cseq:
            assert resp.cseq == cseq, (f"{method} {url}: CSeq {cseq} sent, reply carries "
                                       f"{resp.get('CSeq')!r}: {resp!r}")
        return resp

    def _recv(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            raise ConnectionClosed("connection closed by the server")
        self.buf += data

    def _pop_interleaved(self):
        """Moves complete `$` frames from the front of the buffer; False when
        the front is a partial frame."""
        while self.buf[:1] == b"$":
            if len(self.buf) < 4:
                return False
            n = struct.unpack("!H", self.buf[2:4])[0]
            if len(self.buf) < 4 + n:
                return False
            self.interleaved.append((time.monotonic(), self.buf[1], bytes(self.buf[4:4 + n])))
            del self.buf[:4 + n]
        return True

    def read_response(self, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            if self._pop_interleaved() and self.buf:
                end = self.buf.find(b"\r\n\r\n")
                if end >= 0:
                    head = bytes(self.buf[:end]).decode("latin-1")
                    lines = head.split("\r\n")
                    headers = []
                    for line in lines[1:]:
                        name, _, value = line.partition(":")
                        headers.append((name.strip(), value.strip()))
                    length = 0
                    for k, v in headers:
                        if k.lower() == "content-length":
                            length = int(v)
                    total = end + 4 + length
                    if len(self.buf) >= total:
                        raw = bytes(self.buf[:total])
                        body = raw[end + 4:]
                        del self.buf[:total]
                        return Response(raw, lines[0], headers, body, time.monotonic())
            try:
                self._recv(deadline)
            except TimeoutError:
                raise AssertionError(f"no complete RTSP response; buffer holds {bytes(self.buf[:600])!r}")
            except ConnectionClosed:
                raise ConnectionClosed(f"connection closed; buffer holds {bytes(self.buf[:600])!r}")

    def read_raw(self, idle=0.3, timeout=3.0, until=None):
        """Reads until the connection has been idle `idle` s after the first
        byte (or `until(buf)` is true, or EOF, or timeout); returns bytes."""
        deadline = time.monotonic() + timeout
        got_first = bool(self.buf)
        while True:
            if until is not None and until(bytes(self.buf)):
                break
            d = min(deadline, time.monotonic() + idle) if got_first else deadline
            try:
                self._recv(d)
                got_first = True
            except (TimeoutError, ConnectionClosed):
                break
        out = bytes(self.buf)
        self.buf.clear()
        return out

    def pump(self, seconds):
        """Reads interleaved frames (and nothing else) for `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._pop_interleaved()
            if self.buf[:1] not in (b"", b"$"):
                raise AssertionError(f"unexpected bytes in the interleaved stream: {bytes(self.buf[:200])!r}")
            try:
                self._recv(deadline)
            except TimeoutError:
                break
        self._pop_interleaved()

    def wait_closed(self, timeout=2.0):
        """True when the server closes the connection within timeout (data
        arriving meanwhile is kept in the buffer)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._recv(deadline)
            except TimeoutError:
                return False
            except ConnectionClosed:
                return True
            except OSError:
                return True


def read_lab_reply(conn, lines=3, grace=0.15, timeout=3.0):
    """A lab reply: until `lines` LF-terminated lines arrived, then `grace` s
    more to catch anything extra."""
    def enough(buf):
        return buf.count(b"\n") >= lines
    deadline = time.monotonic() + timeout
    while not enough(bytes(conn.buf)):
        try:
            conn._recv(deadline)
        except (TimeoutError, ConnectionClosed):
            break
    return conn.read_raw(idle=grace, timeout=grace + 0.05) if conn.buf else b""


def parse_transport(value):
    """`RTP/AVP;unicast;client_port=a-b;...` -> (spec, {param: value|True})."""
    parts = [p.strip() for p in value.split(";")]
    params = {}
    for p in parts[1:]:
        k, eq, v = p.partition("=")
        params[k.strip().lower()] = v.strip() if eq else True
    return parts[0], params


def parse_rtp_info(value):
    """`url=...;seq=N;rtptime=T[,url=...]` -> list of dicts (seq, rtptime ints)."""
    out = []
    for item in value.split(","):
        d = {}
        for p in item.split(";"):
            k, _, v = p.strip().partition("=")
            d[k.lower()] = v
        for k in ("seq", "rtptime"):
            if k in d:
                d[k] = int(d[k])
        out.append(d)
    return out


def parse_npt_start(value):
    m = re.match(r"\s*npt\s*=\s*([0-9.]+)\s*-", value)
    assert m, f"Range {value!r} is not npt=T-"
    return float(m.group(1))


def parse_sdp(body):
    text = body.decode()
    lines = [l for l in re.split(r"\r?\n", text) if l]
    session, media = [], []
    for line in lines:
        assert re.match(r"^[a-z]=", line), f"SDP line {line!r} is not <type>=<value>"
        if line.startswith("m="):
            media.append([line])
        elif media:
            media[-1].append(line)
        else:
            session.append(line)
    return session, media


# --------------------------------------------------------------------------
# authentication

def parse_challenge(value):
    scheme, _, rest = value.strip().partition(" ")
    params = {}
    for m in re.finditer(r'(\w+)\s*=\s*(?:"([^"]*)"|([^,\s]+))', rest):
        params[m.group(1).lower()] = m.group(2) if m.group(2) is not None else m.group(3)
    return scheme, params


def basic_auth(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _md5(s):
    return hashlib.md5(s.encode()).hexdigest()


def digest_auth(user, password, realm, nonce, method, uri, qop=None, nc=1,
                cnonce="0a4f113b", opaque=None, algorithm=None):
    ha1 = _md5(f"{user}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    fields = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"']
    if qop:
        ncs = f"{nc:08x}"
        resp = _md5(f"{ha1}:{nonce}:{ncs}:{cnonce}:{qop}:{ha2}")
        fields += [f"qop={qop}", f"nc={ncs}", f'cnonce="{cnonce}"']
    else:
        resp = _md5(f"{ha1}:{nonce}:{ha2}")
    fields.append(f'response="{resp}"')
    if opaque is not None:
        fields.append(f'opaque="{opaque}"')
    if algorithm is not None:
        fields.append(f"algorithm={algorithm}")
    return "Digest " + ", ".join(fields)


# --------------------------------------------------------------------------
# RTP and RTCP

Rtp = collections.namedtuple("Rtp", "t version padding marker pt seq ts ssrc payload size addr")


def parse_rtp(data, t=None, addr=None):
    assert len(data) >= 12, f"RTP packet of {len(data)} bytes"
    b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
    cc = b0 & 0x0F
    off = 12 + 4 * cc
    if b0 & 0x10:
        off += 4 + 4 * struct.unpack("!H", data[off + 2:off + 4])[0]
    end = len(data)
    if b0 & 0x20:
        end -= data[-1]
    return Rtp(t, b0 >> 6, bool(b0 & 0x20), bool(b1 & 0x80), b1 & 0x7F, seq, ts, ssrc,
               bytes(data[off:end]), len(data), addr)


def parse_rtcp(data):
    """A compound RTCP packet -> list of dicts with `pt` and parsed fields."""
    out, off = [], 0
    while off + 4 <= len(data):
        b0, pt, length = struct.unpack("!BBH", data[off:off + 4])
        end = off + 4 * (length + 1)
        body = data[off + 4:end]
        item = {"pt": pt, "version": b0 >> 6, "count": b0 & 0x1F, "length": len(body) + 4}
        if pt == 200 and len(body) >= 24:
            ssrc, ntp_s, ntp_f, rtp_ts, pkts, octets = struct.unpack("!IIIIII", body[:24])
            item.update(ssrc=ssrc, ntp=ntp_s + ntp_f / 2**32, rtp_ts=rtp_ts, packets=pkts, octets=octets)
        elif pt == 201 and len(body) >= 4:
            item["ssrc"] = struct.unpack("!I", body[:4])[0]
        elif pt == 202:
            chunks, p = [], 0
            for _ in range(item["count"]):
                if p + 4 > len(body):
                    break
                ssrc = struct.unpack("!I", body[p:p + 4])[0]
                p += 4
                items = {}
                while p < len(body) and body[p] != 0:
                    typ, n = body[p], body[p + 1]
                    items[typ] = body[p + 2:p + 2 + n]
                    p += 2 + n
                p = (p + 4) & ~3  # the null item and padding to 32 bits
                chunks.append((ssrc, items))
            item["chunks"] = chunks
        elif pt == 203:
            item["ssrcs"] = [struct.unpack("!I", body[4 * i:4 * i + 4])[0]
                             for i in range(item["count"]) if 4 * i + 4 <= len(body)]
        out.append(item)
        if end <= off:
            break
        off = end
    return out


def rtcp_receiver_report(sender_ssrc, source_ssrc, highest_seq=0, jitter=0, cname=b"tests@127.0.0.1"):
    rr = struct.pack("!BBHI", 0x81, 201, 7, sender_ssrc)
    rr += struct.pack("!IIIIII", source_ssrc, 0, highest_seq, jitter, 0, 0)
    chunk = struct.pack("!I", sender_ssrc) + bytes([1, len(cname)]) + cname + b"\0"
    chunk += b"\0" * (-len(chunk) % 4)
    sdes = struct.pack("!BBH", 0x81, 202, len(chunk) // 4) + chunk
    return rr + sdes


NTP_OFFSET = 2208988800  # seconds from 1900 to 1970


class UdpPair:
    """An even RTP port and the next odd RTCP port on 127.0.0.1, received in a
    thread: self.rtp and self.rtcp are lists of (time, data, addr)."""

    def __init__(self, host="127.0.0.1"):
        for _ in range(200):
            a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            a.bind((host, 0))
            port = a.getsockname()[1]
            if port % 2 or port >= 65535:
                a.close()
                continue
            b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                b.bind((host, port + 1))
            except OSError:
                a.close()
                b.close()
                continue
            break
        else:
            raise RuntimeError("no free even/odd UDP port pair")
        for s in (a, b):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.rtp_sock, self.rtcp_sock = a, b
        self.rtp_port, self.rtcp_port = port, port + 1
        self.rtp, self.rtcp = [], []
        self.cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def client_port(self):
        return f"{self.rtp_port}-{self.rtcp_port}"

    def _run(self):
        socks = [self.rtp_sock, self.rtcp_sock]
        while not self._stop:
            r, _, _ = select.select(socks, [], [], 0.05)
            for s in r:
                try:
                    data, addr = s.recvfrom(65536)
                except OSError:
                    continue
                t = time.monotonic()
                with self.cond:
                    (self.rtp if s is self.rtp_sock else self.rtcp).append((t, data, addr))
                    self.cond.notify_all()

    def wait(self, pred, timeout):
        """Waits until pred() is true (called under the lock); returns it."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                v = pred()
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    return v
                self.cond.wait(left)

    def wait_rtp(self, count, timeout=3.0):
        return self.wait(lambda: len(self.rtp) >= count, timeout)

    def wait_rtcp(self, match, timeout=3.0, start=0):
        """Waits for an RTCP compound packet (from index start) for which
        match(parsed list) is true; returns (t, parsed, addr) or None."""
        def pred():
            for t, data, addr in self.rtcp[start:]:
                parsed = parse_rtcp(data)
                if match(parsed):
                    return (t, parsed, addr)
            return None
        return self.wait(pred, timeout)

    def rtp_packets(self, since=None, until=None):
        with self.cond:
            items = list(self.rtp)
        return [parse_rtp(d, t, a) for t, d, a in items
                if (since is None or t >= since) and (until is None or t < until)]

    def rtcp_packets(self):
        with self.cond:
            return [(t, parse_rtcp(d), a) for t, d, a in self.rtcp]

    def frame_count(self):
        """Packets with the marker bit so far (cheap, no parsing)."""
        with self.cond:
            return sum(1 for _, d, _ in self.rtp if len(d) > 1 and d[1] & 0x80)

    def close(self):
        self._stop = True
        self._thread.join(2)
        self.rtp_sock.close()
        self.rtcp_sock.close()


# --------------------------------------------------------------------------
# JPEG and RFC 2435

def parse_mjpeg(data):
    """Lab .Mjpeg container -> list of JPEG byte strings."""
    frames, off = [], 0
    while off < len(data):
        n = int(data[off:off + 5])
        frames.append(bytes(data[off + 5:off + 5 + n]))
        off += 5 + n
    return frames


def write_mjpeg(path, jpegs):
    pathlib.Path(path).write_bytes(b"".join(b"%05d" % len(j) + j for j in jpegs))


JpegInfo = collections.namedtuple("JpegInfo", "width height sampling qtables dri scan")


def jpeg_info(jpeg):
    """Walks the marker segments of a baseline JPEG: size, luma sampling,
    the 8-bit quantization tables by id, restart interval, entropy-coded
    data (without the final EOI)."""
    assert jpeg[:2] == b"\xff\xd8", "no SOI"
    off, qt, dri = 2, {}, 0
    width = height = sampling = None
    while True:
        assert jpeg[off] == 0xFF, f"expected a marker at {off}"
        marker = jpeg[off + 1]
        seglen = struct.unpack("!H", jpeg[off + 2:off + 4])[0]
        seg = jpeg[off + 4:off + 2 + seglen]
        if marker == 0xDB:
            p = 0
            while p < len(seg):
                pq, tq = seg[p] >> 4, seg[p] & 15
                n = 128 if pq else 64
                qt[tq] = bytes(seg[p + 1:p + 1 + n])
                p += 1 + n
        elif marker in (0xC0, 0xC1):
            height, width = struct.unpack("!HH", seg[1:5])
            sampling = seg[7]
        elif marker == 0xDD:
            dri = struct.unpack("!H", seg[:2])[0]
        elif marker == 0xDA:
            scan = jpeg[off + 2 + seglen:]
            if scan.endswith(b"\xff\xd9"):
                scan = scan[:-2]
            return JpegInfo(width, height, sampling, qt, dri, bytes(scan))
        off += 2 + seglen


class Media:
    """The frames of a served stream (.Mjpeg file or directory of JPEGs)."""

    def __init__(self, path):
        path = pathlib.Path(path)
        if path.is_dir():
            self.jpegs = [p.read_bytes() for p in sorted(path.iterdir())
                          if p.suffix.lower() in (".jpg", ".jpeg")]
        else:
            self.jpegs = parse_mjpeg(path.read_bytes())
        self.info = [jpeg_info(j) for j in self.jpegs]
        self.by_scan = {}
        for i, info in enumerate(self.info):
            self.by_scan.setdefault(info.scan, i)
        self.by_jpeg = {}
        for i, j in enumerate(self.jpegs):
            self.by_jpeg.setdefault(j, i)

    def __len__(self):
        return len(self.jpegs)

    def index_of_scan(self, scan):
        if scan.endswith(b"\xff\xd9"):
            i = self.by_scan.get(scan[:-2])
            if i is not None:
                return i
        return self.by_scan.get(scan)


JpegFrame = collections.namedtuple(
    "JpegFrame", "ts seq_first seq_last packets t_first t_last type q width height qtables scan dri")


def parse_jpeg_payload(payload, first_in_frame):
    """RFC 2435 section 3.1: main header, restart header (types 64-127),
    quantization table header (Q >= 128, fragment offset 0)."""
    assert len(payload) >= 8, f"RTP/JPEG payload of {len(payload)} bytes"
    tspec = payload[0]
    offset = int.from_bytes(payload[1:4], "big")
    typ, q, w8, h8 = payload[4], payload[5], payload[6], payload[7]
    p = 8
    dri = None
    if 64 <= typ <= 127:
        dri = struct.unpack("!H", payload[p:p + 2])[0]
        p += 4
    qtables = None
    if q >= 128 and offset == 0:
        mbz, precision, length = struct.unpack("!BBH", payload[p:p + 4])
        qtables = (precision, bytes(payload[p + 4:p + 4 + length]))
        p += 4 + length
    return {"tspec": tspec, "offset": offset, "type": typ, "q": q, "width": w8 * 8,
            "height": h8 * 8, "dri": dri, "qtables": qtables, "data": payload[p:]}


def assemble_jpeg_frames(packets):
    """Groups RTP/JPEG packets (in arrival order) into frames. Returns
    (frames, problems). A frame at the very end without its marker packet
    (capture cut mid-frame) is dropped silently; everything else that breaks
    RFC 2435 reassembly is a problem."""
    frames, problems = [], []
    cur = []

    def finish(pkts):
        heads = []
        for k, pkt in enumerate(pkts):
            try:
                heads.append(parse_jpeg_payload(pkt.payload, k == 0))
            except (AssertionError, struct.error, IndexError) as e:
                problems.append(f"seq {pkt.seq}: bad RTP/JPEG header: {e}")
                return
        expect = 0
        for pkt, h in zip(pkts, heads):
            if h["offset"] != expect:
                problems.append(f"frame ts={pkts[0].ts}: packet seq {pkt.seq} has fragment offset "
                                f"{h['offset']}, expected {expect}")
                return
            expect += len(h["data"])
            for k in ("type", "q", "width", "height"):
                if h[k] != heads[0][k]:
                    problems.append(f"frame ts={pkts[0].ts}: {k} changes inside the frame")
                    return
        for pkt in pkts[:-1]:
            if pkt.marker:
                problems.append(f"frame ts={pkts[0].ts}: marker on packet seq {pkt.seq} before the end")
        h0 = heads[0]
        if h0["q"] >= 128 and h0["qtables"] is None:
            problems.append(f"frame ts={pkts[0].ts}: Q={h0['q']} without a quantization table header")
        frames.append(JpegFrame(pkts[0].ts, pkts[0].seq, pkts[-1].seq, len(pkts), pkts[0].t,
                                pkts[-1].t, h0["type"], h0["q"], h0["width"], h0["height"],
                                h0["qtables"], b"".join(h["data"] for h in heads), h0["dri"]))

    for pkt in packets:
        if cur and pkt.ts != cur[0].ts:
            problems.append(f"frame ts={cur[0].ts} (seq {cur[0].seq}..{cur[-1].seq}) ended "
                            f"without a marker packet")
            cur = []
        cur.append(pkt)
        if pkt.marker:
            finish(cur)
            cur = []
    return frames, problems


def check_rtp_stream(packets, media, *, ssrc=None, fps=20.0, mtu=1400, loop=False,
                     first_index=None, src_port=None):
    """Checks a captured RTP/JPEG stream against the media. Returns
    (frames, indices, problems): the reassembled frames, the media index of
    each, and every violation found (an empty list means all good)."""
    problems = []
    if not packets:
        return [], [], ["no RTP packets"]
    for p in packets:
        if p.version != 2:
            problems.append(f"seq {p.seq}: version {p.version}")
        if p.pt != 26:
            problems.append(f"seq {p.seq}: payload type {p.pt}, expected 26")
        if ssrc is not None and p.ssrc != ssrc:
            problems.append(f"seq {p.seq}: SSRC {p.ssrc:08x}, expected {ssrc:08x}")
        if p.size > mtu - 28:
            problems.append(f"seq {p.seq}: {p.size}-byte RTP packet, above --mtu {mtu} - 28")
        if src_port is not None and p.addr is not None and p.addr[1] != src_port:
            problems.append(f"seq {p.seq}: sent from port {p.addr[1]}, server_port says {src_port}")
    for a, b in zip(packets, packets[1:]):
        if (b.seq - a.seq) & 0xFFFF != 1:
            problems.append(f"sequence number {a.seq} followed by {b.seq}")
    frames, fproblems = assemble_jpeg_frames(packets)
    problems += fproblems
    step = round(90000 / fps)
    indices = []
    for f in frames:
        idx = media.index_of_scan(f.scan)
        indices.append(idx)
        if idx is None:
            problems.append(f"frame ts={f.ts}: {len(f.scan)} bytes of scan data match no frame of the media")
            continue
        info = media.info[idx]
        if (f.width, f.height) != (info.width, info.height):
            problems.append(f"frame {idx}: size {f.width}x{f.height}, media {info.width}x{info.height}")
        want_type = 1 if info.sampling == 0x22 else 0
        if f.type & 63 != want_type:
            problems.append(f"frame {idx}: RFC 2435 type {f.type}, expected {want_type} (+64 with restarts)")
        if f.q != 255:
            problems.append(f"frame {idx}: Q={f.q}, docs/serve.md says Q=255 (tables in-band)")
        elif f.qtables is not None:
            precision, tables = f.qtables
            want = info.qtables.get(0, b"") + info.qtables.get(1, b"")
            if precision != 0 or tables != want:
                problems.append(f"frame {idx}: in-band quantization tables differ from the JPEG's DQT")
    for (fa, ia), (fb, ib) in zip(zip(frames, indices), zip(frames[1:], indices[1:])):
        if ia is None or ib is None:
            continue
        want = (ia + 1) % len(media) if loop else ia + 1
        if ib != want:
            problems.append(f"frame {ia} followed by frame {ib}")
        if (fb.ts - fa.ts) & 0xFFFFFFFF != step:
            problems.append(f"frames {ia}->{ib}: timestamp step {(fb.ts - fa.ts) & 0xFFFFFFFF}, expected {step}")
    if first_index is not None and indices and indices[0] != first_index:
        problems.append(f"first frame is media frame {indices[0]}, expected {first_index}")
    return frames, indices, problems


def frame_rate(frames):
    """Frames per second from the arrival of the first and last marker packets."""
    if len(frames) < 2:
        return 0.0
    return (len(frames) - 1) / (frames[-1].t_last - frames[0].t_last)


def is_whole_jpeg(data):
    return data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"


# --------------------------------------------------------------------------
# plain RTSP session helpers

def setup_udp(conn, url, pair, session=None, extra=()):
    headers = [("Transport", f"RTP/AVP;unicast;client_port={pair.client_port}"), *extra]
    return conn.request("SETUP", url, headers, session=session)


def start_udp_play(server, stream="movie.Mjpeg", conn=None, pair=None, range_=None):
    """SETUP (UDP) and PLAY; returns (conn, pair, setup_reply, play_reply, info)."""
    conn = conn or server.connect()
    pair = pair or UdpPair()
    setup = setup_udp(conn, server.url(stream) + "/track0", pair)
    assert setup.status == 200, setup
    spec, tp = parse_transport(setup.get("Transport", ""))
    sid = setup.session
    headers = [("Range", range_)] if range_ else []
    play = conn.request("PLAY", server.url(stream), headers, session=sid)
    assert play.status == 200, play
    info = {"session": sid, "transport": tp,
            "ssrc": int(tp["ssrc"], 16) if isinstance(tp.get("ssrc"), str) else None,
            "server_port": [int(x) for x in tp["server_port"].split("-")] if isinstance(tp.get("server_port"), str) else None}
    return conn, pair, setup, play, info


# --------------------------------------------------------------------------
# HTTP live view

def http_get(host, port, path, timeout=3.0, read_body=True):
    """Simple HTTP/1.0-style GET; returns (status, headers dict lower-cased, body, sock)."""
    s = socket.create_connection((host, port), timeout=timeout)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
    buf = b""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in buf:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if not read_body:
        return status, headers, rest, s
    body = rest
    n = headers.get("content-length")
    while n is None or len(body) < int(n):
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        body += chunk
    s.close()
    return status, headers, body, None


def read_multipart(sock, boundary, initial, seconds, max_parts=10_000):
    """Reads multipart/x-mixed-replace parts for `seconds`; returns a list of
    (arrival time, part headers dict, body)."""
    buf = bytearray(initial)
    parts = []
    delim = b"--" + boundary.encode()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(parts) < max_parts:
        while True:
            start = buf.find(delim)
            if start < 0:
                break
            hstart = start + len(delim)
            hend = buf.find(b"\r\n\r\n", hstart)
            if hend < 0:
                break
            headers = {}
            for line in bytes(buf[hstart:hend]).decode("latin-1").split("\r\n"):
                k, _, v = line.partition(":")
                if v:
                    headers[k.strip().lower()] = v.strip()
            bstart = hend + 4
            if "content-length" in headers:
                n = int(headers["content-length"])
                if len(buf) < bstart + n:
                    break
                body = bytes(buf[bstart:bstart + n])
                del buf[:bstart + n]
            else:
                nxt = buf.find(delim, bstart)
                if nxt < 0:
                    break
                body = bytes(buf[bstart:nxt]).rstrip(b"\r\n")
                del buf[:nxt]
            parts.append((time.monotonic(), headers, body))
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
    return parts

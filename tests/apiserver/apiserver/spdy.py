# SPDX-License-Identifier: Apache-2.0
"""SPDY/3.1 framing, the stream multiplexing kubectl uses for port-forward
(over an HTTP upgrade, or tunnelled inside WebSocket binary messages since
the PortForwardWebsockets feature).  Only what a port-forward server needs:
parse frames, inflate/deflate header blocks with the protocol's shared zlib
dictionary, and build SYN_REPLY, DATA, RST_STREAM, PING and GOAWAY."""

import struct
import zlib

MAX_FRAME_BYTES = 1 << 24
VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
RST_PROTOCOL_ERROR, RST_CANCEL = 1, 5

# The header compression dictionary of SPDY/3 (draft-mbelshe-httpbis-spdy-00,
# section 2.6.10.1): length-prefixed common header names and values, then a
# run of common status lines, dates and media types.
_WORDS = [
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
    "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
    "content-base", "content-encoding", "content-language", "content-length", "content-location",
    "content-md5", "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host",
    "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified",
    "location", "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
    "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via",
    "warning", "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url",
    "public", "set-cookie", "keep-alive", "origin",
]
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()
assert len(DICTIONARY) == 1423


class ProtocolError(Exception):
    pass


class Frame:
    def __init__(self, ftype, flags, stream_id=0, data=b"", headers=None, value=0):
        self.type, self.flags, self.stream_id, self.data, self.headers, self.value = \
            ftype, flags, stream_id, data, headers, value

    @property
    def fin(self):
        return bool(self.flags & FLAG_FIN)


class Session:
    """One connection's framing state (the zlib contexts span all frames)."""

    def __init__(self):
        self.buf = bytearray()
        self.inflate = zlib.decompressobj(zdict=DICTIONARY)
        self.deflate = zlib.compressobj(zdict=DICTIONARY)

    def _headers(self, block):
        try:
            raw = self.inflate.decompress(block, MAX_FRAME_BYTES)
        except zlib.error as e:
            raise ProtocolError(f"header block: {e}")
        if len(raw) < 4:
            raise ProtocolError("short header block")
        n, off, out = struct.unpack(">I", raw[:4])[0], 4, {}
        for _ in range(n):
            if off + 4 > len(raw):
                raise ProtocolError("truncated header name")
            ln = struct.unpack(">I", raw[off:off + 4])[0]
            name = raw[off + 4:off + 4 + ln].decode("latin-1").lower()
            off += 4 + ln
            if off + 4 > len(raw):
                raise ProtocolError("truncated header value")
            lv = struct.unpack(">I", raw[off:off + 4])[0]
            out[name] = raw[off + 4:off + 4 + lv].decode("latin-1").split("\0")
            off += 4 + lv
        return out

    def feed(self, data):
        self.buf += data
        out = []
        while len(self.buf) >= 8:
            w0, w1 = struct.unpack(">II", self.buf[:8])
            flags, length = w1 >> 24, w1 & 0xFFFFFF
            if len(self.buf) < 8 + length:
                break
            body = bytes(self.buf[8:8 + length])
            del self.buf[:8 + length]
            if not w0 & 0x80000000:
                out.append(Frame(0, flags, w0 & 0x7FFFFFFF, data=body))
                continue
            ftype = w0 & 0xFFFF
            if ftype == SYN_STREAM:
                if length < 10:
                    raise ProtocolError("short SYN_STREAM")
                sid = struct.unpack(">I", body[:4])[0] & 0x7FFFFFFF
                out.append(Frame(ftype, flags, sid, headers=self._headers(body[10:])))
            elif ftype in (SYN_REPLY, HEADERS):
                sid = struct.unpack(">I", body[:4])[0] & 0x7FFFFFFF
                out.append(Frame(ftype, flags, sid, headers=self._headers(body[4:])))
            elif ftype in (RST_STREAM, WINDOW_UPDATE) and length >= 8:
                sid, v = struct.unpack(">II", body[:8])
                out.append(Frame(ftype, flags, sid & 0x7FFFFFFF, value=v))
            elif ftype == PING and length >= 4:
                out.append(Frame(ftype, flags, value=struct.unpack(">I", body[:4])[0]))
            elif ftype == GOAWAY:
                out.append(Frame(ftype, flags))
            else:
                out.append(Frame(ftype, flags))  # SETTINGS and others: nothing to do
        return out

    def _control(self, ftype, flags, body):
        return struct.pack(">HHI", 0x8000 | VERSION, ftype, (flags << 24) | len(body)) + body

    def _header_block(self, headers):
        raw = struct.pack(">I", len(headers))
        for k, v in headers.items():
            k, v = k.lower().encode(), v.encode()
            raw += struct.pack(">I", len(k)) + k + struct.pack(">I", len(v)) + v
        return self.deflate.compress(raw) + self.deflate.flush(zlib.Z_SYNC_FLUSH)

    def syn_reply(self, sid, headers=None, fin=False):
        return self._control(SYN_REPLY, FLAG_FIN if fin else 0,
                             struct.pack(">I", sid) + self._header_block(headers or {}))

    def rst(self, sid, status=RST_CANCEL):
        return self._control(RST_STREAM, 0, struct.pack(">II", sid, status))

    def ping(self, pid):
        return self._control(PING, 0, struct.pack(">I", pid))

    def goaway(self, last=0):
        return self._control(GOAWAY, 0, struct.pack(">II", last, 0))

    @staticmethod
    def data(sid, payload, fin=False):
        return struct.pack(">II", sid, ((FLAG_FIN if fin else 0) << 24) | len(payload)) + bytes(payload)

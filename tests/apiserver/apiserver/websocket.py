# SPDX-License-Identifier: Apache-2.0
"""RFC 6455 WebSocket framing for the server side: the opening handshake's
Sec-WebSocket-Accept, an incremental frame reader that enforces client
masking, reassembles fragmented messages and bounds their size, and frame
writers (server frames are never masked)."""

import base64
import hashlib
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_MESSAGE_BYTES = 16 << 20

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class ProtocolError(Exception):
    def __init__(self, code, why):
        super().__init__(why)
        self.code = code


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + GUID).digest()).decode("ascii")


def frame(opcode, payload=b"", fin=True):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 1 << 16:
        head += bytes([126]) + struct.pack(">H", n)
    else:
        head += bytes([127]) + struct.pack(">Q", n)
    return head + bytes(payload)


def close_frame(code=1000, reason=""):
    return frame(OP_CLOSE, struct.pack(">H", code) + reason.encode()[:120])


class Reader:
    """feed() bytes, get back complete (opcode, payload) messages; control
    frames come back as they arrive, even between fragments."""

    def __init__(self, max_message=MAX_MESSAGE_BYTES):
        self.buf = bytearray()
        self.max = max_message
        self.frag_op = None
        self.frag = bytearray()

    def feed(self, data):
        self.buf += data
        out = []
        while True:
            if len(self.buf) < 2:
                return out
            b0, b1 = self.buf[0], self.buf[1]
            if b0 & 0x70:
                raise ProtocolError(1002, "reserved bits set")
            fin, op = bool(b0 & 0x80), b0 & 0x0F
            if not b1 & 0x80:
                raise ProtocolError(1002, "client frame not masked")
            n, off = b1 & 0x7F, 2
            if n == 126:
                if len(self.buf) < 4:
                    return out
                n, off = struct.unpack(">H", self.buf[2:4])[0], 4
            elif n == 127:
                if len(self.buf) < 10:
                    return out
                n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
            if n > self.max:
                raise ProtocolError(1009, "message too big")
            if op >= 0x8 and (n > 125 or not fin):
                raise ProtocolError(1002, "bad control frame")
            if len(self.buf) < off + 4 + n:
                return out
            mask = self.buf[off:off + 4]
            data = bytearray(self.buf[off + 4:off + 4 + n])
            del self.buf[:off + 4 + n]
            for i in range(n):
                data[i] ^= mask[i & 3]
            if op >= 0x8:
                out.append((op, bytes(data)))
                continue
            if op == OP_CONT:
                if self.frag_op is None:
                    raise ProtocolError(1002, "continuation without a start")
                self.frag += data
            else:
                if self.frag_op is not None:
                    raise ProtocolError(1002, "new message inside a fragmented one")
                if op not in (OP_TEXT, OP_BINARY):
                    raise ProtocolError(1002, f"unknown opcode {op}")
                self.frag_op, self.frag = op, data
            if len(self.frag) > self.max:
                raise ProtocolError(1009, "message too big")
            if fin:
                out.append((self.frag_op, bytes(self.frag)))
                self.frag_op, self.frag = None, bytearray()

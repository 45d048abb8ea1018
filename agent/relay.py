# The in-instance end of the operator's relay: one `docker exec` runs this with its stdin and
# stdout attached, and every inbound TCP connection (SSH, exposed URLs, port forwards) travels
# over that one channel as frames, to 127.0.0.1:<port> inside the instance. No port of the
# instance is published on the host. It ends when its stdin closes (the operator went away).
#
# Frame: type u8, channel u32, length u32 (big-endian), payload.
#   host -> here: OPEN (payload u16 port), DATA, EOF (no more data to the port), CLOSE (abort),
#                 ACK (u32 bytes the host has consumed), PING
#   here -> host: OPENED, DATA, EOF, CLOSE (payload: why), ACK, PONG
# Flow control: at most WINDOW bytes per channel and direction are unacknowledged; a reader
# stops reading its socket until the other side has caught up.
import asyncio
import os
import struct
import sys

OPEN, DATA, EOF, CLOSE, ACK, OPENED, PING, PONG = 1, 2, 3, 4, 5, 6, 7, 8
WINDOW = 1 << 20
CHUNK = 64 * 1024
HDR = struct.Struct(">BII")


class Chan:
    def __init__(self, cid):
        self.id = cid
        self.queue = asyncio.Queue()  # bytes from the host to the port; None: EOF
        self.writer = None
        self.unacked = 0
        self.window_open = asyncio.Event()
        self.window_open.set()
        self.tasks = []
        self.done_in = False  # the host said EOF and it was passed on
        self.done_out = False  # the port said EOF and it was passed on
        self.closed = False


chans = {}
out = None

# Not dumpable: code in the instance runs as the same uid and could otherwise open
# /proc/<this pid>/fd/1 and write frames into the operator's end (which parses them defensively
# anyway).
try:
    import ctypes

    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)
except Exception:
    pass


def send(kind, cid, payload=b""):
    out.write(HDR.pack(kind, cid, len(payload)) + payload)


def finish(c, why=None):
    if c.closed:
        return
    c.closed = True
    chans.pop(c.id, None)
    if why is not None:
        send(CLOSE, c.id, why.encode("utf-8", "replace")[:500])
    for t in c.tasks:
        if t is not asyncio.current_task():
            t.cancel()
    if c.writer is not None:
        try:
            c.writer.transport.abort() if why is not None else c.writer.close()
        except Exception:
            pass


def maybe_done(c):
    if c.done_in and c.done_out:
        finish(c)


async def run_chan(c, port):
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as e:
        finish(c, f"connection to port {port} refused: {e.strerror or e}")
        return
    if c.closed:
        writer.transport.abort()
        return
    c.writer = writer
    send(OPENED, c.id)
    c.tasks.append(asyncio.ensure_future(to_port(c, writer)))
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                send(EOF, c.id)
                c.done_out = True
                maybe_done(c)
                return
            while c.unacked >= WINDOW:
                c.window_open.clear()
                await c.window_open.wait()
            c.unacked += len(data)
            send(DATA, c.id, data)
            await out.drain()
    except asyncio.CancelledError:
        raise
    except Exception as e:  # a reset connection
        finish(c, f"connection to port {port} failed: {e}")


async def to_port(c, writer):
    try:
        while True:
            data = await c.queue.get()
            if data is None:
                if writer.can_write_eof():
                    writer.write_eof()
                c.done_in = True
                maybe_done(c)
                return
            writer.write(data)
            await writer.drain()
            send(ACK, c.id, struct.pack(">I", len(data)))
    except asyncio.CancelledError:
        raise
    except Exception as e:
        finish(c, f"write to the port failed: {e}")


async def main():
    global out
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 22)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(0, "rb", buffering=0))
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, os.fdopen(1, "wb", buffering=0))
    out = asyncio.StreamWriter(transport, protocol, None, loop)
    while True:
        try:
            head = await reader.readexactly(HDR.size)
            kind, cid, n = HDR.unpack(head)
            payload = await reader.readexactly(n) if n else b""
        except (asyncio.IncompleteReadError, ConnectionError):
            break
        if kind == DATA:
            c = chans.get(cid)
            if c is not None:
                c.queue.put_nowait(payload)
        elif kind == ACK:
            c = chans.get(cid)
            if c is not None:
                c.unacked -= struct.unpack(">I", payload)[0]
                if c.unacked < WINDOW:
                    c.window_open.set()
        elif kind == OPEN:
            c = Chan(cid)
            chans[cid] = c
            c.tasks.append(asyncio.ensure_future(run_chan(c, struct.unpack(">H", payload)[0])))
        elif kind == EOF:
            c = chans.get(cid)
            if c is not None:
                c.queue.put_nowait(None)
        elif kind == CLOSE:
            c = chans.get(cid)
            if c is not None:
                c.closed = True
                chans.pop(cid, None)
                for t in c.tasks:
                    t.cancel()
                if c.writer is not None:
                    c.writer.transport.abort()
        elif kind == PING:
            send(PONG, cid, payload)
    for c in list(chans.values()):
        finish(c)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    sys.exit(0)

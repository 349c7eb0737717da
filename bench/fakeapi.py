"""A lean fake Bot API server for tier (b), run in its own process so its CPU is not the bot's.

`python -m bench.fakeapi` listens on a free loopback port, prints the port on stdout and
answers every `POST /bot<token>/<method>` with Telegram's canned answer for the method, over
HTTP/1.1 keep-alive, until stdin closes. It reads each request in full (headers and body) and
parses nothing else: it stands for the network and Telegram, not for work the bot does.
"""

from __future__ import annotations

import asyncio
import sys

from bench.common import canned_answer

_REASONS = {200: b"OK", 404: b"Not Found"}


class _Connection(asyncio.Protocol):
    """One keep-alive connection: requests in, canned answers out, in order."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = bytes(self.buffer[:end]).decode("latin-1")
            request_line, *headers = head.split("\r\n")
            length = 0
            for header in headers:
                name, _, value = header.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            del self.buffer[: end + 4 + length]
            path = request_line.split(" ")[1].partition("?")[0]
            status, body = canned_answer(path.rpartition("/")[2])
            assert self.transport is not None
            self.transport.write(
                b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % (status, _REASONS.get(status, b"Error"), len(body))
                + body
            )


async def serve() -> None:
    """Serve until stdin closes."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(serve())

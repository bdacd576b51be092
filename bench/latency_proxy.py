"""A local TCP proxy that adds latency to every API call, to model real cloud API round trips
in front of an emulator.

Each request (the first bytes a client sends after the previous response, so HTTP keep-alive
and the emulator's one-request connections are both covered) waits ``delay`` seconds before
it is forwarded. The proxy listens on 127.0.0.1 only, holds at most ``max_connections`` client
connections at once (others wait in the listen backlog), counts the requests it forwarded,
and stops by itself after ``idle_seconds`` without traffic or ``max_seconds`` in all.

    .venv/bin/python bench/latency_proxy.py --upstream 127.0.0.1:5000 --delay-ms 50

Library use (what bench/org_bench.py does): ``start_proxy(...)`` runs it in a child process,
so that the proxy's work does not compete with the measured scan for the GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from typing import Any

HOST = "127.0.0.1"
READ_SIZE = 65536


class _Proxy:
    def __init__(self, upstream: tuple[str, int], delay: float, max_connections: int,
                 requests: Synchronized[int]):
        self.upstream = upstream
        self.delay = delay
        self.slots = asyncio.Semaphore(max_connections)
        self.requests = requests
        self.last_activity = time.monotonic()
        self.open = 0

    async def handle(self, client_reader: asyncio.StreamReader,
                     client_writer: asyncio.StreamWriter) -> None:
        async with self.slots:
            self.open += 1
            try:
                await self._connect(client_reader, client_writer)
            finally:
                self.open -= 1

    async def _connect(self, client_reader: asyncio.StreamReader,
                       client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.close()
            return
        state = {"awaiting_request": True}
        directions = [
            asyncio.ensure_future(self._pipe(client_reader, upstream_writer, state, True)),
            asyncio.ensure_future(self._pipe(upstream_reader, client_writer, state, False))]
        try:
            # either side closing ends the connection: the client reconnects for its next call
            await asyncio.wait(directions, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for direction in directions:
                direction.cancel()
            for writer in (client_writer, upstream_writer):
                writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    state: dict[str, bool], to_upstream: bool) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(READ_SIZE):
                self.last_activity = time.monotonic()
                if to_upstream and state["awaiting_request"]:
                    state["awaiting_request"] = False
                    with self.requests.get_lock():
                        self.requests.value += 1
                    await asyncio.sleep(self.delay)
                elif not to_upstream:
                    state["awaiting_request"] = True
                writer.write(data)
                await writer.drain()


async def _serve(upstream: tuple[str, int], delay: float, max_connections: int,
                 idle_seconds: float, max_seconds: float, requests: Synchronized[int],
                 ready: Any) -> None:
    proxy = _Proxy(upstream, delay, max_connections, requests)
    server = await asyncio.start_server(proxy.handle, HOST, 0, backlog=1024)
    ready.send(server.sockets[0].getsockname()[1])
    started = time.monotonic()
    async with server:
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            idle = proxy.open == 0 and now - proxy.last_activity > idle_seconds
            if idle or now - started > max_seconds:
                return


def _run(upstream: tuple[str, int], delay: float, max_connections: int, idle_seconds: float,
         max_seconds: float, requests: Synchronized[int], ready: Any) -> None:
    asyncio.run(_serve(upstream, delay, max_connections, idle_seconds, max_seconds, requests,
                       ready))


@dataclass
class ProxyHandle:
    url: str
    _requests: Synchronized[int]
    _process: multiprocessing.Process

    @property
    def requests(self) -> int:
        """Requests forwarded so far."""
        return self._requests.value

    def stop(self) -> None:
        self._process.terminate()
        self._process.join(10)


def start_proxy(upstream: str, *, delay_ms: float = 50, max_connections: int = 256,
                idle_seconds: float = 600, max_seconds: float = 4 * 3600) -> ProxyHandle:
    """Start the proxy in a child process; ``upstream`` is ``HOST:PORT``."""
    host, port = upstream.rsplit(":", 1)
    context = multiprocessing.get_context("spawn")
    requests = context.Value("q", 0)
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_run, daemon=True, args=(
        (host, int(port)), delay_ms / 1000, max_connections, idle_seconds, max_seconds,
        requests, sender))
    process.start()
    if not receiver.poll(30):
        process.terminate()
        raise RuntimeError("the latency proxy did not start")
    return ProxyHandle(f"http://{HOST}:{receiver.recv()}", requests, process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="HOST:PORT of the emulator")
    parser.add_argument("--delay-ms", type=float, default=50)
    parser.add_argument("--max-connections", type=int, default=256)
    parser.add_argument("--idle-seconds", type=float, default=600)
    parser.add_argument("--max-seconds", type=float, default=4 * 3600)
    options = parser.parse_args()
    handle = start_proxy(options.upstream, delay_ms=options.delay_ms,
                         max_connections=options.max_connections,
                         idle_seconds=options.idle_seconds, max_seconds=options.max_seconds)
    print(f"proxy {handle.url} -> {options.upstream} (+{options.delay_ms:g} ms per request)",
          flush=True)
    handle._process.join()
    print(f"stopped after {handle.requests} requests")


if __name__ == "__main__":
    main()

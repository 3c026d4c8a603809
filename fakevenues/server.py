"""The HTTP + WebSocket server a fake venue runs on: an aiohttp app on a free 127.0.0.1 port.

The server runs its own event loop in a background thread, so the Nautilus node under test keeps
the test's loop to itself (as a real venue is another process). Everything that touches a fake
venue's state — its request handlers and the test's own calls (:meth:`FakeServer.call`) — runs on
the server's loop, one thing at a time, so no lock is needed. Every open WebSocket is tracked, so
a test can drop them all at once (:meth:`FakeServer.drop_websockets`) and watch the clients
reconnect.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import WSCloseCode, web

T = TypeVar("T")

HOST = "127.0.0.1"
CALL_TIMEOUT_SECS = 10.0


class FakeServer:
    """Serves ``app`` on ``127.0.0.1:<free port>`` from a background thread until :meth:`stop`."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-venue", daemon=True)
        self._runner: web.AppRunner | None = None
        self._websockets: set[web.WebSocketResponse] = set()
        self.port = 0

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop the server's handlers run on (another fake's handler hands work to it)."""
        return self._loop

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}"

    def start(self) -> FakeServer:
        self._thread.start()
        self.call(self._start)
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(self._app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # the OS's free port

    def stop(self) -> None:
        """Close every connection, stop serving and end the thread."""
        if not self._thread.is_alive():
            return
        self.call(self._stop)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=CALL_TIMEOUT_SECS)
        self._loop.close()

    async def _stop(self) -> None:
        await self._close_websockets()
        if self._runner is not None:
            await self._runner.cleanup()

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run the coroutine function ``fn(*args)`` on the server's loop and return its result
        (from any other thread)."""
        future = asyncio.run_coroutine_threadsafe(fn(*args), self._loop)
        return future.result(timeout=CALL_TIMEOUT_SECS)

    def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` evaluated on the server's loop, between two handler steps: a consistent view
        of the state the handlers change (from any other thread)."""

        async def _run() -> T:
            return fn()

        return self.call(_run)

    # -- WebSockets ------------------------------------------------------------------------------

    async def open_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """Accept a WebSocket upgrade and track the connection until it closes."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._websockets.add(ws)
        return ws

    def forget(self, ws: web.WebSocketResponse) -> None:
        """Stop tracking a connection (its handler has returned)."""
        self._websockets.discard(ws)

    @property
    def websocket_count(self) -> int:
        """How many WebSockets are open now."""
        return self.run(lambda: sum(1 for ws in self._websockets if not ws.closed))

    def drop_websockets(self) -> int:
        """Close every open WebSocket as a venue does when it restarts; returns how many."""
        return self.call(self._close_websockets)

    async def _close_websockets(self) -> int:
        open_now = [ws for ws in self._websockets if not ws.closed]
        for ws in open_now:
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"fake venue dropped the connection")
        self._websockets.clear()
        return len(open_now)


async def send_text(ws: web.WebSocketResponse, text: str) -> None:
    """Send ``text`` to a client that is still there. A client that went away (a node killed
    outright) misses it, as on a real venue: its socket may still be closing, not yet closed, when
    the next event comes, and that write must not fail the venue's step."""
    if ws.closed:
        return
    try:
        await ws.send_str(text)
    except ConnectionResetError:
        return

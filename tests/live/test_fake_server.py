"""The fake venues' server: a client that went away mid-step does not fail the venue's step."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import ClientSession, web

from fakevenues.server import FakeServer, send_text


def test_a_message_to_a_client_whose_socket_is_still_closing_is_dropped():
    """A node killed outright leaves its socket closing, not yet closed, when the venue's next
    event comes (the Binance restart test met it as an error in the fake's hour step)."""
    opened: asyncio.Queue[tuple[web.Request, web.WebSocketResponse]] = asyncio.Queue()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        opened.put_nowait((request, ws))
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    server = FakeServer(app).start()

    async def kill_then_send() -> None:
        request, ws = await opened.get()
        request.transport.close()
        assert not ws.closed
        with pytest.raises(ConnectionResetError):
            await ws.send_str("plain send fails")
        await send_text(ws, "dropped")

    async def client() -> None:
        async with ClientSession() as session, session.ws_connect(f"{server.ws_url}/ws"):
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(kill_then_send(), server.loop))

    try:
        asyncio.run(client())
    finally:
        server.stop()

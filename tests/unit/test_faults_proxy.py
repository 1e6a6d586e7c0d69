"""The drill proxy on loopback, against a small asyncio upstream in the same event loop:
keep-alive, streamed bodies both ways, each fault kind, and fault windows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from harness.faults.proxy import FaultProxy, RequestHead
from harness.faults.spec import parse_faults


@dataclass
class Upstream:
    """Answers `GET /chunked` with three chunks 0.2 s apart, echoes request bodies, and records
    each request's headers and which connection it came on."""

    port: int = 0
    connections: int = 0
    seen: list[dict[str, str]] = field(default_factory=list)
    release_last_chunk: asyncio.Event = field(default_factory=asyncio.Event)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    raw = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                lines = raw.decode().split("\r\n")
                method, path, _ = lines[0].split(" ")
                headers = {
                    k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:-2])
                }
                self.seen.append({"path": path, **headers})
                body = b""
                if "content-length" in headers:
                    body = await reader.readexactly(int(headers["content-length"]))
                elif headers.get("transfer-encoding") == "chunked":
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                        data = await reader.readexactly(size + 2)
                        body += data[:-2]
                        if size == 0:  # no trailers in these tests
                            break
                if path == "/chunked":
                    writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                    writer.write(b"5\r\nfirst\r\n")
                    await writer.drain()
                    await self.release_last_chunk.wait()
                    writer.write(b"4\r\nlast\r\n0\r\n\r\n")
                else:
                    payload = body or f"{method} {path}".encode() * (100 if path == "/big" else 1)
                    writer.write(
                        f"HTTP/1.1 200 OK\r\ncontent-length: {len(payload)}\r\n\r\n".encode()
                        + payload
                    )
                await writer.drain()
        finally:
            writer.close()


@asynccontextmanager
async def running(specs: list[str], seed: int = 1) -> AsyncIterator[tuple[FaultProxy, Upstream]]:
    upstream = Upstream()
    server = await asyncio.start_server(upstream.serve, "127.0.0.1", 0)
    upstream.port = server.sockets[0].getsockname()[1]
    proxy = FaultProxy(f"http://127.0.0.1:{upstream.port}", parse_faults(specs), seed=seed)
    proxy.port = await proxy.start()  # type: ignore[attr-defined]
    try:
        yield proxy, upstream
    finally:
        await proxy.close()
        server.close()
        await server.wait_closed()


async def exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    path: str,
    *,
    method: str = "GET",
    body: bytes = b"",
    headers: str = "",
) -> tuple[int, bytes]:
    """One request on an open connection; returns status and body (content-length bodies)."""
    length = f"content-length: {len(body)}\r\n" if body else ""
    writer.write(f"{method} {path} HTTP/1.1\r\nhost: x\r\n{length}{headers}\r\n".encode() + body)
    await writer.drain()
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    status = int(head.split(" ")[1])
    size = int(
        next(ln for ln in head.split("\r\n") if ln.lower().startswith("content-length")).split(":")[
            1
        ]
    )
    return status, await reader.readexactly(size)


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout=20))


async def connect(proxy: FaultProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", proxy.port)  # type: ignore[attr-defined]


def test_keep_alive_reuses_one_upstream_connection() -> None:
    async def test() -> None:
        async with running([]) as (proxy, upstream):
            reader, writer = await connect(proxy)
            for i in range(5):
                assert await exchange(reader, writer, f"/r{i}") == (200, f"GET /r{i}".encode())
            writer.close()
            assert upstream.connections == 1
            assert proxy.counts["requests"] == 5

    run(test)


def test_request_bodies_are_relayed_content_length_and_chunked() -> None:
    async def test() -> None:
        async with running([]) as (proxy, _):
            reader, writer = await connect(proxy)
            big = b"x" * 300_000
            assert await exchange(reader, writer, "/echo", method="POST", body=big) == (200, big)
            writer.write(
                b"POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
                b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
            )
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            assert b"content-length: 5" in head
            assert await reader.readexactly(5) == b"abcde"
            writer.close()

    run(test)


def test_response_bodies_stream_as_they_arrive() -> None:
    async def test() -> None:
        async with running([]) as (proxy, upstream):
            reader, writer = await connect(proxy)
            writer.write(b"GET /chunked HTTP/1.1\r\nhost: x\r\n\r\n")
            await writer.drain()
            await reader.readuntil(b"\r\n\r\n")
            # The first chunk arrives while the upstream still holds the last one back.
            assert await asyncio.wait_for(reader.readuntil(b"first\r\n"), 2) == b"5\r\nfirst\r\n"
            upstream.release_last_chunk.set()
            assert await reader.readuntil(b"0\r\n\r\n") == b"4\r\nlast\r\n0\r\n\r\n"
            # and the connection is still good for the next request
            assert await exchange(reader, writer, "/after") == (200, b"GET /after")
            writer.close()

    run(test)


def test_fixed_and_tail_latency() -> None:
    async def test() -> None:
        async with running(["latency:/slow=+200ms", "latency:/tail=+200ms@50%"]) as (proxy, _):
            reader, writer = await connect(proxy)
            started = time.perf_counter()
            await exchange(reader, writer, "/slow")
            assert time.perf_counter() - started >= 0.2
            started = time.perf_counter()
            await exchange(reader, writer, "/fast")
            assert time.perf_counter() - started < 0.1
            for _ in range(40):
                await exchange(reader, writer, "/tail")
            assert 8 <= proxy.counts["latency:/tail=+200ms@50%"] <= 32
            writer.close()

    run(test)


def test_proportional_latency_and_jitter() -> None:
    async def test() -> None:
        async with running(["latency:/x=+100%", "jitter:/j=50ms"]) as (proxy, _):
            reader, writer = await connect(proxy)
            await exchange(reader, writer, "/x")
            assert proxy.counts["latency:/x=+100%"] == 1
            durations = []
            for _ in range(10):
                started = time.perf_counter()
                await exchange(reader, writer, "/j")
                durations.append(time.perf_counter() - started)
            assert max(durations) <= 0.2 and max(durations) - min(durations) > 0.005
            writer.close()

    run(test)


def test_errors_keep_the_connection_and_the_body_is_consumed() -> None:
    async def test() -> None:
        async with running(["errors:/bad=100%,status=503"]) as (proxy, upstream):
            reader, writer = await connect(proxy)
            status, body = await exchange(reader, writer, "/bad", method="POST", body=b"z" * 1000)
            assert status == 503 and b"injected" in body
            assert await exchange(reader, writer, "/good") == (200, b"GET /good")
            assert [s["path"] for s in upstream.seen] == ["/good"]
            writer.close()

    run(test)


def test_reset_closes_with_a_tcp_reset() -> None:
    async def test() -> None:
        async with running(["reset:/r=100%"]) as (proxy, upstream):
            reader, writer = await connect(proxy)
            writer.write(b"GET /r HTTP/1.1\r\nhost: x\r\n\r\n")
            await writer.drain()
            try:
                data = await reader.read(100)
            except ConnectionResetError:
                data = b"reset"
            assert data in (b"", b"reset")
            assert upstream.seen == []
            writer.close()

    run(test)


def test_bandwidth_paces_the_response_body() -> None:
    async def test() -> None:
        async with running(["bandwidth:/big=4KB/s"]) as (proxy, _):
            reader, writer = await connect(proxy)
            started = time.perf_counter()
            status, body = await exchange(reader, writer, "/big")  # 1,000 bytes
            elapsed = time.perf_counter() - started
            assert status == 200 and len(body) == 800
            assert 0.15 <= elapsed < 1.0  # 800 B at 4 KB/s ≈ 0.2 s
            writer.close()

    run(test)


def test_traceparent_is_dropped_and_other_headers_kept() -> None:
    async def test() -> None:
        async with running(["traceparent:/t*=drop"]) as (proxy, upstream):
            reader, writer = await connect(proxy)
            tp = "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
            await exchange(reader, writer, "/t1", headers=tp + "x-keep: 1\r\n")
            await exchange(reader, writer, "/u1", headers=tp)
            writer.close()
            assert "traceparent" not in upstream.seen[0] and upstream.seen[0]["x-keep"] == "1"
            assert "traceparent" in upstream.seen[1]

    run(test)


def test_funnel_blocks_the_same_users_every_time() -> None:
    async def test() -> None:
        async with running(["funnel:checkout=50%"]) as (proxy, _):
            reader, writer = await connect(proxy)
            outcomes: dict[str, set[int]] = {}
            for user in range(20):
                for _ in range(3):
                    status, _ = await exchange(
                        reader,
                        writer,
                        "/api/v1/orders",
                        method="POST",
                        body=b"{}",
                        headers=f"authorization: Bearer user{user}\r\n",
                    )
                    outcomes.setdefault(f"user{user}", set()).add(status)
            writer.close()
            assert all(len(s) == 1 for s in outcomes.values())  # sticky per user
            blocked = sum(1 for s in outcomes.values() if s == {403})
            assert 3 <= blocked <= 17

    run(test)


def test_windows_start_and_stop_faults() -> None:
    proxy = FaultProxy("http://127.0.0.1:9", parse_faults(["errors:*=100%,after=5s,for=10s"]))
    head = RequestHead("GET", "/", b"HTTP/1.1", [])
    at = proxy.started
    assert proxy.plan(head, now=at + 4.9).status is None
    assert proxy.plan(head, now=at + 5.001).status == 500
    assert proxy.plan(head, now=at + 14.9).status == 500
    # `(at + 15.0) - at` may round to 14.999…, so the exact edges are checked on the window itself.
    assert proxy.plan(head, now=at + 15.001).status is None
    (fault,) = parse_faults(["errors:*=100%,after=5s,for=10s"])
    assert fault.active(5.0) and fault.active(14.999) and not fault.active(15.0)


def test_upstream_down_answers_502() -> None:
    async def test() -> None:
        proxy = FaultProxy("http://127.0.0.1:9")  # discard port: nothing listens
        port = await proxy.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        await writer.drain()
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 502")
        writer.close()
        await proxy.close()

    run(test)


def test_the_upstream_is_reached_through_the_targets_forward_proxy() -> None:
    """With the target's settings naming a forward proxy (here the fake upstream plays it),
    requests go to it in absolute form with its credentials, as the HTTP stack sends them."""
    from harness.http.transport import HttpSettings

    async def test() -> None:
        forward = Upstream()
        server = await asyncio.start_server(forward.serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        settings = HttpSettings(proxies={"http": f"http://ada:pw@127.0.0.1:{port}"})
        proxy = FaultProxy("http://shop.example:8080", settings=settings)
        proxy.port = await proxy.start()  # type: ignore[attr-defined]
        try:
            reader, writer = await connect(proxy)
            assert (await exchange(reader, writer, "/r?q=1"))[0] == 200
            writer.close()
        finally:
            await proxy.close()
            server.close()
            await server.wait_closed()
        seen = forward.seen[0]
        assert seen["path"] == "http://shop.example:8080/r?q=1"
        assert seen["host"] == "shop.example:8080"
        assert seen["proxy-authorization"] == "Basic YWRhOnB3"

    run(test)


def test_a_touchpoint_with_settings_of_its_own_is_reached_its_own_way() -> None:
    """The mobile touchpoint's own forward proxy carries its requests; the API's go direct, on
    one client connection switching between them."""
    from harness.http.transport import HttpSettings

    async def test() -> None:
        forward = Upstream()
        server = await asyncio.start_server(forward.serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with running([]) as (_, upstream):
            origin = f"http://127.0.0.1:{upstream.port}"
            mobile = HttpSettings(proxies={"http": f"http://127.0.0.1:{port}"})
            proxy = FaultProxy(
                origin, settings=HttpSettings(proxies={}), touchpoint_settings={"mobile": mobile}
            )
            proxy.port = await proxy.start()  # type: ignore[attr-defined]
            try:
                reader, writer = await connect(proxy)
                for path in ("/api/v1/a", "/mobile/v2/b", "/api/v1/c"):
                    assert (await exchange(reader, writer, path))[0] == 200
                writer.close()
            finally:
                await proxy.close()
        server.close()
        await server.wait_closed()
        assert [s["path"] for s in upstream.seen] == ["/api/v1/a", "/api/v1/c"]
        assert [s["path"] for s in forward.seen] == [f"{origin}/mobile/v2/b"]

    run(test)


def test_a_kept_alive_upstream_that_closes_unanswered_closes_the_client_too() -> None:
    """An upstream that closes a reused keep-alive connection as the next request arrives (its
    idle timeout) answers nothing: the client's connection, reused as well, is closed the same
    way so that the client asks again on a new one, never a 502 for an idle timeout. On a fresh
    connection, the same silence is a 502, as nginx answers."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")  # the next request: closed unanswered
        writer.close()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    async def test() -> None:
        for handler, first in ((serve, b"HTTP/1.1 200 OK"), (silent, b"HTTP/1.1 502 ")):
            server = await asyncio.start_server(handler, "127.0.0.1", 0)
            proxy = FaultProxy(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
            port = await proxy.start()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(first)
            if handler is serve:
                assert await reader.readexactly(2) == b"ok"
                writer.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
                assert await reader.read() == b""  # closed, as the upstream closed
            assert proxy.counts["bad gateway"] == (handler is silent)
            writer.close()
            await proxy.close()
            server.close()
            await server.wait_closed()

    run(test)

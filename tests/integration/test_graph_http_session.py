"""Graph's connection pool (and MSAL's session) keep a connection for every call a busy worker makes at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from activation.graph.http_session import build_graph_pool, build_http_session

AT_ONCE = 16  # 4 gthread threads x (enable + 3 pre-TAP reads)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.peers: set[tuple[str, int]] = set()
        self.together = threading.Barrier(AT_ONCE, timeout=10)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def do_GET(self) -> None:  # noqa: N802
        server: Server = self.server  # type: ignore[assignment]
        server.peers.add(self.client_address)
        server.together.wait()  # every call of the wave is in flight at once
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Server]:
    server = Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("client", ["graph pool", "msal session"])
def test_a_second_wave_of_concurrent_calls_reuses_every_connection(server: Server, client: str) -> None:
    url = f"http://127.0.0.1:{server.server_address[1]}/v1.0/users"
    if client == "graph pool":
        pool_manager = build_graph_pool(None)

        def status(_: int) -> int:
            return pool_manager.request("GET", url, timeout=10, retries=False).status
    else:
        session = build_http_session(None)

        def status(_: int) -> int:
            return session.get(url, timeout=10).status_code
    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        for _wave in range(2):
            assert list(pool.map(status, range(AT_ONCE))) == [200] * AT_ONCE
    assert len(server.peers) == AT_ONCE  # no connection was discarded and opened again

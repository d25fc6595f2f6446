"""`custintel serve --workers N`: several processes, keep-alive without Nagle delays."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from custintel.api.server import TCPConfig


def test_the_listening_socket_is_tcp_so_connections_get_nodelay() -> None:
    config = TCPConfig("custintel.api.app:create_worker_app", factory=True, port=0)
    sock = config.bind_socket()
    try:
        # asyncio sets TCP_NODELAY on accepted sockets only when the protocol says TCP
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_two_worker_processes_answer_keep_alive_requests_quickly(home: Path) -> None:
    port = _free_port()
    env = {**os.environ, "CUSTINTEL_HOME": str(home), "CUSTINTEL_IN_PROCESS_WORKER": "false"}
    command = [str(Path(sys.executable).parent / "custintel"), "serve", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--workers", "2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(120):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.25)
            else:
                pytest.fail("serve --workers 2 did not start within 30 s")
            started = time.perf_counter()
            for _ in range(20):  # one keep-alive connection
                assert client.get("/healthz").status_code == 200
            per_request = (time.perf_counter() - started) / 20
    finally:
        server.terminate()
        server.wait(timeout=30)
    # Nagle against delayed ACK costs about 40 ms a request; without it a few ms
    assert per_request < 0.02

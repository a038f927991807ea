"""The demo server (``persona-sim demo``) as a process: its port check, its offline CDN
route and its page-close route.

One server, ``persona-sim demo --port 0`` in a subprocess, serves the module; its
address is read from what it prints. Its environment routes any outbound HTTP(S)
through a "proxy" that is a socket of this test on 127.0.0.1: a connection there is
an attempt to fetch something from outside the machine, and fails the tests. All
requests go to 127.0.0.1; every wait is bounded, and the server is stopped at the end.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("solara")

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
START_SECONDS = 90
STOP_SECONDS = 15
#: a file the page never asks for and solara-assets does not ship: Solara's CDN proxy
#: would fetch it from a public CDN
MISSING_ASSET = "/_solara/cdn/vue@2.6.14/dist/vue.min.js"
#: a file solara-assets ships (the page's module loader)
LOCAL_ASSET = "/_solara/cdn/requirejs@2.3.6/require.js"
#: what Solara's CDN helper logs when it fetches (or fails to)
FETCH_WORDS = ("Could not load URL", "cdn.jsdelivr", "Writing cache file", "fetch")


def _command(*args: str) -> list[str]:
    """``persona-sim ARGS``: the console script beside this Python, else ``-m sim.cli``."""
    script = Path(sys.executable).with_name("persona-sim")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "sim.cli", *args]


def _local_opener() -> urllib.request.OpenerDirector:
    """An opener that goes straight to 127.0.0.1 (never through a proxy of the environment)."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _request(url: str, method: str = "GET", timeout: float = 10) -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with _local_opener().open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


class Proxy:
    """A listening socket on 127.0.0.1 that records every connection and closes it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((HOST, 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.url = f"http://{HOST}:{self.sock.getsockname()[1]}"
        self.connections: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, peer = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(peer)
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


class Server:
    """``persona-sim demo --port 0`` in a subprocess, its output in two files."""

    def __init__(self, folder: Path, proxy: Proxy) -> None:
        self.out = folder / "stdout.log"
        self.err = folder / "stderr.log"
        env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "all_proxy")}
        env.update({"PYTHONUNBUFFERED": "1", "HTTP_PROXY": proxy.url, "HTTPS_PROXY": proxy.url,
                    "ALL_PROXY": proxy.url, "http_proxy": proxy.url, "https_proxy": proxy.url,
                    "all_proxy": proxy.url})
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.process = subprocess.Popen(_command("demo", "--port", "0"), stdout=out, stderr=err,
                                            stdin=subprocess.DEVNULL, env=env, cwd=str(ROOT))
        self.url = self._wait_until_serving()

    def log(self) -> str:
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    def _wait_until_serving(self) -> str:
        deadline = time.monotonic() + START_SECONDS
        url = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the demo server exited with {self.process.returncode}:\n{self.log()}")
            if url is None:
                for line in self.out.read_text(errors="replace").splitlines():
                    if "starting at " in line:
                        url = line.split("starting at ", 1)[1].strip()
            if url is not None:
                try:
                    if _request(url + "/readyz", timeout=5)[0] == 200:
                        return url
                except OSError:
                    pass
            time.sleep(0.2)
        pytest.fail(f"the demo server did not serve within {START_SECONDS} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_SECONDS)


@pytest.fixture(scope="module")
def proxy():
    proxy = Proxy()
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture(scope="module")
def server(proxy, tmp_path_factory):
    """The demo server on a port it picked; stopped after the module's tests."""
    server = None
    try:
        server = Server(tmp_path_factory.mktemp("demo-server"), proxy)
        yield server
    finally:
        if server is not None:
            server.stop()


def _listening_addresses(port: int) -> list[str]:
    """The local addresses of the sockets listening on PORT (from /proc/net/tcp and tcp6)."""
    addresses = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                addresses.append(address)
    return addresses


# -- the port ---------------------------------------------------------------------------------
def test_busy_port_is_one_line_and_exit_2_before_anything_starts():
    """A port some socket listens on: exit 2, one line naming the port and what is
    allowed, nothing printed as started, no traceback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind((HOST, 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(_command("demo", "--port", str(port)), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=120, cwd=str(ROOT))
    assert done.returncode == 2, done
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"persona-sim: error: --port {port} is busy on 127.0.0.1: allowed is a free port, or 0 to pick one"
    ]


def test_port_check_agrees_with_uvicorns_bind():
    """reserve_port() has uvicorn's SO_REUSEADDR: a port a socket listens on is busy; a
    port it reserved can still be listened on the way uvicorn does (SO_REUSEADDR), and
    while reserved it is busy for any other check."""
    from sim.app import PortUnavailable, reserve_port

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind((HOST, 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortUnavailable, match=f"^port {port} is busy on 127.0.0.1: allowed is a free port"):
            reserve_port(port)
    with reserve_port(0) as reservation:
        port = reservation.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as like_uvicorn:
            like_uvicorn.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            like_uvicorn.bind((HOST, port))
            like_uvicorn.listen()
            with pytest.raises(PortUnavailable, match="is busy"):
                reserve_port(port)


def test_port_0_prints_a_port_it_listens_on_at_127_0_0_1_only(server):
    """--port 0 prints the port it picked; only 127.0.0.1 listens there; the page renders."""
    assert server.url.startswith("http://127.0.0.1:")
    port = int(server.url.rsplit(":", 1)[1])
    assert port != 0
    assert _listening_addresses(port) == ["0100007F"]  # 127.0.0.1, and no other address
    status, body = _request(server.url + "/")
    assert status == 200 and b"<html" in body.lower()


# -- nothing from outside the machine ------------------------------------------------------
def test_cdn_path_not_installed_is_404_at_once_without_fetching(server, proxy):
    """A CDN path solara-assets does not ship is a 404 within 2 s: no connection out
    (the proxy saw none), nothing in the log about fetching; one it ships is served."""
    started = time.monotonic()
    status, _ = _request(server.url + MISSING_ASSET)
    elapsed = time.monotonic() - started
    assert status == 404
    assert elapsed < 2.0, f"{elapsed:.2f} s"
    status, body = _request(server.url + LOCAL_ASSET)
    assert status == 200 and b"requirejs" in body.lower()
    time.sleep(0.3)  # let the server write anything it would log about these requests
    assert proxy.connections == []
    log = server.log()
    assert not [word for word in FETCH_WORDS if word in log], log


# -- the page-close route -------------------------------------------------------------------
@pytest.mark.parametrize("query, expected", [("", 400), ("?session_id=abc", 404)])
def test_close_of_an_unknown_page_is_4xx_without_traceback(server, proxy, query, expected):
    """POST /_solara/api/close/<unknown id>: 400 without a session_id, 404 with one;
    no traceback in the log, and the server still serves."""
    status, _ = _request(f"{server.url}/_solara/api/close/xyz{query}", method="POST")
    assert status == expected
    time.sleep(0.3)  # a traceback is logged after the response is sent
    log = server.log()
    assert "Traceback" not in log and "KeyError" not in log, log
    assert _request(server.url + "/readyz")[0] == 200
    assert proxy.connections == []

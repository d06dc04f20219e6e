"""The demo server: a ``ThreadingHTTPServer`` on 127.0.0.1 in a daemon thread, plus the live-run thread."""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import random
import select
import socket
import ssl
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, NamedTuple, TextIO

from botmon_tui.demo.app import DemoApp, Request, Response
from botmon_tui.demo.auth import TokenStore
from botmon_tui.demo.catalog import BotSpec
from botmon_tui.demo.config import DemoConfig
from botmon_tui.demo.cron import CronSchedule
from botmon_tui.demo.faults import HANG_CAP_SECONDS, Faults
from botmon_tui.demo.store import DemoStore

__all__ = ["DemoServer", "RecordedRequest", "serve_forever"]

LOOPBACK = "127.0.0.1"


class RecordedRequest(NamedTuple):
    """One request as the server saw it (``status`` 0 when the connection was dropped)."""

    method: str
    path: str
    status: int
    nbytes: int


class _Headers(dict[str, str]):
    """Request headers with case-insensitive ``get`` (first value of a repeated header)."""

    def __init__(self, items: dict[str, str]) -> None:
        super().__init__({k.lower(): v for k, v in items.items()})

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], demo: DemoServer) -> None:
        self.demo = demo
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away before its answer was written (a request cancelled because the
        # one beside it failed, a TUI that quit mid-poll) is not an error; socketserver would
        # print a traceback on stderr: over the terminal of --demo, into a test's captured stderr.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def get_request(self) -> tuple[Any, Any]:
        sock, address = super().get_request()
        context = self.demo.tls
        if context is None:
            return sock, address
        # The handshake happens here, in the accept loop: a client that refuses the certificate
        # fails it, and the connection is closed (OSError makes socketserver skip it quietly).
        sock.settimeout(5.0)
        try:
            wrapped = context.wrap_socket(sock, server_side=True)
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                sock.close()
            raise OSError("TLS handshake failed") from None
        wrapped.settimeout(None)
        return wrapped, address

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "botmon-demo/1"
    sys_version = ""
    timeout = 120
    #: Headers and body go out in separate writes; without TCP_NODELAY, Nagle plus delayed ACKs add 40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.demo.cfg.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self, method: str) -> None:
        demo = self.server.demo
        body = self._read_body()
        headers = {name: value for name, value in reversed(self.headers.items())}
        request = Request(method, self.path, _Headers(headers), body, self.client_address[0])
        response = demo.app.handle(request)
        head = method == "HEAD"
        # Recorded before the answer goes out, so a client that has read it finds it in ``requests``.
        demo._record(RecordedRequest(method, self.path, response.status, self._body_bytes(response, head)))
        self._write(response, head=head)

    @staticmethod
    def _body_bytes(resp: Response, head: bool) -> int:
        """Body bytes :meth:`_write` sends."""
        if head or resp.mode == "drop":
            return 0
        return len(resp.body) if resp.mode == "normal" else len(resp.body) // 2

    def _write(self, resp: Response, *, head: bool) -> None:
        if resp.mode == "drop":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        date = next((value for name, value in resp.headers if name.lower() == "date"), None)
        self.log_request(resp.status)
        self.send_response_only(resp.status, resp.reason)
        self.send_header("Server", self.version_string())
        if date is None:
            date = self.server.demo.date_header()
        self.send_header("Date", self.date_time_string() if date is None else date)
        for name, value in resp.headers:
            if name.lower() != "date":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(resp.body)))
        if resp.mode != "normal":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if head:
            return
        if resp.mode == "normal":
            self.wfile.write(resp.body)
            return
        try:
            self.wfile.write(resp.body[: len(resp.body) // 2])
            self.wfile.flush()
            if resp.mode == "hang":
                self._stall()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _stall(self) -> None:
        """Wait until the client disconnects, the server stops, or the cap passes."""
        deadline = time.monotonic() + HANG_CAP_SECONDS
        stop = self.server.demo._stop
        while not stop.is_set() and time.monotonic() < deadline:
            readable, _, _ = select.select([self.connection], [], [], 0.1)
            if readable:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        return  # the client closed the connection
                except (OSError, ValueError):  # ValueError: a TLS socket takes no flags
                    return
                time.sleep(0.05)


class _LiveRunner(threading.Thread):
    """Runs bots on their schedules (faster with ``live_speed``) until ``stop`` is set."""

    def __init__(
        self, store: DemoStore, speed: float, seed: int, stop: threading.Event, fail_scale: float = 1.0
    ) -> None:
        super().__init__(name="botmon-demo-live", daemon=True)
        self.store = store
        self.speed = speed
        self.fail_scale = fail_scale
        self.stop_event = stop
        self.rng = random.Random(f"{seed}:live-timing")

    def _next(self, spec: BotSpec, now: float) -> float:
        if spec.live_interval_s:
            mean = spec.live_interval_s / self.speed
            return now + min(max(self.rng.expovariate(1.0 / mean), 0.2 * mean), 4 * mean)
        schedule = spec.schedule
        assert schedule is not None
        nxt = CronSchedule.parse(schedule).next_after(datetime.fromtimestamp(now, UTC)).timestamp()
        return now + (nxt - now) / self.speed + self.rng.uniform(0.2, 1.5)

    def run(self) -> None:
        now = time.time()
        plan = {bot_id: (spec, self._next(spec, now)) for bot_id, spec in self.store.live_schedule()}
        while plan and not self.stop_event.is_set():
            due = min(t for _, t in plan.values())
            if self.stop_event.wait(max(0.0, due - time.time())):
                return
            now = time.time()
            for bot_id, (spec, at) in list(plan.items()):
                if at > now:
                    continue
                burst = (
                    self.rng.randint(2, 4) if spec.burst_prob and self.rng.random() < spec.burst_prob else 1
                )
                stored = datetime.now(UTC)  # a burst is stored in one millisecond
                try:
                    for _ in range(burst):
                        self.store.run_bot(bot_id, at=stored, fail_scale=self.fail_scale)
                except KeyError:  # the bot was deleted
                    del plan[bot_id]
                    continue
                plan[bot_id] = (spec, self._next(spec, now))


class DemoServer:
    """A Medplum-compatible server on 127.0.0.1 with a seeded demo project.

    >>> with DemoServer(DemoConfig(live=False)) as srv:   # doctest: +SKIP
    ...     httpx.get(srv.base_url + "fhir/R4/Bot", auth=(srv.client_id, srv.client_secret))

    ``tls`` (an ``ssl.SSLContext`` with a certificate loaded) makes it an https server; the
    attribute may be swapped while running (new connections present the new certificate), which
    tests use for TLS failures and their recovery.
    """

    def __init__(self, cfg: DemoConfig | None = None, *, tls: ssl.SSLContext | None = None) -> None:
        self.cfg = cfg or DemoConfig()
        self.tls = tls
        self.store = DemoStore(self.cfg)
        self.faults = Faults()
        self.tokens = TokenStore(issuer="http://127.0.0.1/")
        self.faults._bind(self.expire_tokens)
        self._stop = threading.Event()
        self.app = DemoApp(self.cfg, self.store, self.faults, self.tokens, self._stop)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._live: _LiveRunner | None = None
        self._requests: list[RecordedRequest] = []
        self._requests_lock = threading.Lock()
        self._port: int | None = None
        self._made = time.monotonic()

    def date_header(self) -> str | None:
        """The ``Date`` header of a response: None (the real time) unless ``cfg.date_from_now``."""
        now = self.cfg.now
        if not self.cfg.date_from_now or now is None:
            return None
        return email.utils.format_datetime(
            now + timedelta(seconds=time.monotonic() - self._made), usegmt=True
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self, *, same_port: bool = False) -> None:
        """Bind 127.0.0.1 (``cfg.port`` or a free port) and serve in a daemon thread.

        ``same_port``: after :meth:`stop`, listen on the port used before (a server coming back).
        """
        if self._httpd is not None:
            raise RuntimeError("the demo server is already running")
        self._stop.clear()
        port = self._port if same_port and self._port else self.cfg.port or 0
        httpd = _HTTPServer((LOOPBACK, port), self)
        self._httpd = httpd
        self._port = httpd.server_address[1]
        self.app.port = self._port
        self.app.scheme = "https" if self.tls is not None else "http"
        self.tokens.issuer = self.cfg.public_base_url or self.base_url
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="botmon-demo-http", daemon=True
        )
        self._thread.start()
        if self.cfg.live:
            self._live = _LiveRunner(
                self.store, self.cfg.live_speed, self.cfg.seed, self._stop, self.cfg.live_fail_scale
            )
            self._live.start()

    def stop(self) -> None:
        """Stop serving, close open connections and stop the live thread (idempotent)."""
        self._stop.set()
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.close_connections()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._live is not None:
            self._live.join(timeout=5)
            self._live = None

    def restart(self, *, forget_tokens: bool = True) -> None:
        """Stop and start again on the same port, keeping the data (a deploy, a crash and restart).

        ``forget_tokens``: tokens issued before are unknown afterwards (401 ``Unauthorized``).
        """
        self.stop()
        if forget_tokens:
            self.tokens.revoke_all()
        self.start(same_port=True)

    def __enter__(self) -> DemoServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses and credentials

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the demo server has not been started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/`` (the FHIR base is ``base_url + "fhir/R4/"``); https with ``tls``."""
        return f"{'https' if self.tls is not None else 'http'}://{LOOPBACK}:{self.port}/"

    @property
    def fhir_url(self) -> str:
        return self.base_url + "fhir/R4/"

    @property
    def token_url(self) -> str:
        return self.base_url + "oauth2/token"

    @property
    def client_id(self) -> str:
        return self.cfg.client_id

    @property
    def client_secret(self) -> str:
        return self.cfg.client_secret

    # ------------------------------------------------------------------ tokens

    def issue_token(self, ttl: float | None = None) -> str:
        """A valid access token without an HTTP round trip (for tests)."""
        return self.tokens.issue(self.client_id, self.cfg.token_ttl if ttl is None else ttl, "openid")

    def login(self, ttl: float | None = None) -> tuple[str, str]:
        """``(access token, refresh token)`` of a new login, as ``medplum login`` stores them."""
        return self.tokens.start_login(
            self.client_id, self.cfg.token_ttl if ttl is None else ttl, "openid offline"
        )

    def expire_tokens(self) -> int:
        """Make every issued token expired now (the next call with one gets 401 ``Token expired``)."""
        return self.tokens.expire_all()

    # ------------------------------------------------------------------ request log

    def _record(self, entry: RecordedRequest) -> None:
        with self._requests_lock:
            self._requests.append(entry)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far: ``(method, path_with_query, status, response_bytes)``."""
        with self._requests_lock:
            return list(self._requests)

    def reset_requests(self) -> None:
        with self._requests_lock:
            self._requests.clear()


def serve_forever(
    port: int | None = None,
    cfg: DemoConfig | None = None,
    *,
    out: TextIO | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Run the demo server in the foreground until Ctrl-C (``botmon-tui demo-server``).

    Prints the base URL, the client id and secret and a curl example to ``out`` (default stdout).
    ``port`` overrides ``cfg.port``; ``stop`` (for tests) ends it as Ctrl-C does.
    """

    cfg = cfg or DemoConfig()
    if port is not None:
        cfg = dataclasses.replace(cfg, port=port)
    out = out or sys.stdout
    server = DemoServer(cfg)
    server.start()
    base, cid, secret = server.base_url, server.client_id, server.client_secret
    print(
        "\n".join(
            [
                "botmon-tui demo server: a Medplum-compatible API on loopback (fake data, no PHI)",
                f"  base URL       {base}",
                f"  FHIR base      {server.fhir_url}",
                f"  client id      {cid}",
                f"  client secret  {secret}",
                f"  project        {len(server.store.bots)} bots, {server.store.event_count()} AuditEvents"
                + (", live" if cfg.live else ""),
                "",
                "Try it:",
                f"  curl -s -u {cid}:{secret} '{server.fhir_url}Bot?_count=5&_sort=name'",
                f"  curl -s -X POST {server.token_url} -d grant_type=client_credentials \\",
                f"       -d client_id={cid} -d client_secret={secret}",
                "Make a bot fail now (demo only, not Medplum's API):",
                f"  curl -s -X POST -u {cid}:{secret} '{base}demo/run?bot=lab-results-router&outcome=4'",
                "Or point botmon-tui at it:",
                f"  MEDPLUM_BASE_URL={base} MEDPLUM_CLIENT_ID={cid} \\",
                f"  MEDPLUM_CLIENT_SECRET={secret} botmon-tui",
                "",
                "Press Ctrl-C to stop.",
            ]
        ),
        file=out,
        flush=True,
    )
    try:
        while stop is None or not stop.is_set():
            if stop is None:
                time.sleep(3600)
            else:
                stop.wait(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()

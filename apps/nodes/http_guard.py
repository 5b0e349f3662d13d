"""SSRF guard for HTTP nodes.

Every connection (the first request and each redirect hop) resolves its host here, refuses
loopback, private, link-local, reserved, multicast and unspecified addresses unless
settings.DRIFT_HTTP_ALLOWED_NETWORKS lists them, and then connects to the very address that was
checked (no second DNS lookup, so DNS rebinding cannot swap the target). TLS still verifies the
certificate against the host name. Environment proxies are ignored (`trust_env = False`).

`Deadline` gives the calls made under it one total time budget (requests' timeouts are per connect and per
read); `check_url` tells up front whether the guard would refuse a URL (e.g. a webhook URL at run start).
"""

from __future__ import annotations

import contextlib
import heapq
import ipaddress
import itertools
import os
import socket
import threading
import time
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedAddress(ValueError):
    """The target resolves to an address HTTP nodes may not reach. (ValueError: urllib3 must not wrap it.)"""


def _allowed_networks() -> list[str]:
    from apps.nodes import settings

    return settings.http_allowed_networks()


def _is_special(ip: IPAddress) -> bool:
    return (ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_reserved or ip.is_multicast
            or ip.is_unspecified or not ip.is_global)


def _reason(ip: IPAddress) -> str:
    for attr in ("loopback", "link_local", "private", "multicast", "unspecified", "reserved"):
        if getattr(ip, f"is_{attr}"):
            return attr.replace("_", "-")
    return "non-public"


def check_ip(ip: IPAddress, allowed: list[str] | None = None) -> None:
    """Raise BlockedAddress unless `ip` is public or inside an allowed network."""
    mapped = getattr(ip, "ipv4_mapped", None)
    ip = mapped or ip  # ::ffff:127.0.0.1 is 127.0.0.1
    if not _is_special(ip):
        return
    allowed = _allowed_networks() if allowed is None else allowed
    if "*" in allowed:
        return
    for cidr in allowed:
        try:
            if ip in ipaddress.ip_network(cidr, strict=False):
                return
        except ValueError:
            continue
    raise BlockedAddress(f"refused to connect to {ip} ({_reason(ip)} address); "
                         "allow it with DRIFT_HTTP_ALLOWED_NETWORKS")


def resolve_checked(host: str, port: int) -> list[str]:
    """Resolve `host` and check every address (any refused one refuses the host); socket.gaierror if unknown."""
    infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))  # a str for AF_INET(6)
    allowed = _allowed_networks()
    for address in addresses:
        check_ip(ipaddress.ip_address(address.split("%")[0]), allowed)
    return addresses


def check_url(url: str) -> None:
    """Raise BlockedAddress if the guard would refuse `url`'s host. A name that does not resolve (now) passes:
    the call itself fails later and is retried like any unreachable host."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise BlockedAddress("the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise BlockedAddress(f"invalid port: {exc}") from None
    with contextlib.suppress(socket.gaierror, UnicodeError):
        resolve_checked(parts.hostname, port)


class Deadline:
    """One total time budget for the HTTP calls made inside `with Deadline(seconds):` on this thread.

    requests' timeouts bound each connect and each socket read, so a peer answering a byte per read (headers or
    body) never trips them. At expiry every connection opened under the budget is shut down, which ends a
    blocked read at once: the caller gets a connection error and `expired` is True.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self.done = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._token: Token[Deadline | None] | None = None

    def __enter__(self) -> Deadline:
        self._token = _deadline.set(self)
        _WATCHER.watch(self, time.monotonic() + self.seconds)
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self.done = True
            self._sockets.clear()  # the watcher keeps a finished deadline until its time: not its sockets
        if self._token is not None:
            _deadline.reset(self._token)

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shutdown(sock)

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)


class _Watcher:
    """The one thread that expires every Deadline of the process at its time. A `threading.Timer` per deadline
    started a thread for each HTTP call (~0.16 ms of CPU, as much as building its session). Finished deadlines
    are dropped when they come due, or all at once when they outnumber the live ones."""

    COMPACT_EVERY = 1024

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Deadline]] = []
        self._changed = threading.Condition()
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: Deadline, at: float) -> None:
        with self._changed:
            order = next(self._order)
            if order % self.COMPACT_EVERY == 0:
                self._due = [entry for entry in self._due if not entry[2].done]
                heapq.heapify(self._due)
            heapq.heappush(self._due, (at, order, deadline))
            if self._thread is None or not self._thread.is_alive():  # first use, or in a forked child
                self._thread = threading.Thread(target=self._run, name="http-deadlines", daemon=True)
                self._thread.start()
            if self._due[0][2] is deadline:
                self._changed.notify()

    def _run(self) -> None:
        while True:
            self._next_due().expire()

    def _next_due(self) -> Deadline:
        with self._changed:
            while True:
                while self._due and self._due[0][2].done:
                    heapq.heappop(self._due)
                if not self._due:
                    self._changed.wait()
                    continue
                wait = self._due[0][0] - time.monotonic()
                if wait <= 0:
                    return heapq.heappop(self._due)[2]
                self._changed.wait(wait)

    def reset_after_fork(self) -> None:
        self._due, self._changed, self._thread = [], threading.Condition(), None


_WATCHER = _Watcher()
os.register_at_fork(after_in_child=_WATCHER.reset_after_fork)  # a lock held at the fork stays held in the child


_deadline: ContextVar[Deadline | None] = ContextVar("http_guard_deadline", default=None)


def _shutdown(sock: socket.socket) -> None:
    # The plain socket method, also for an SSLSocket: its own shutdown() would drop the TLS object under the
    # reading thread. A closed socket has no descriptor any more (OSError), so no reused one is ever hit.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


if TYPE_CHECKING:  # the mixin only ever comes before an HTTPConnection (below): type it as one
    _Connection = HTTPConnection
else:
    _Connection = object


class _GuardedMixin(_Connection):
    """urllib3's `_new_conn`, connecting to the checked address (Host header and TLS keep `host`); connections
    made under a `Deadline` are registered with it."""

    def connect(self) -> None:
        super().connect()
        deadline = _deadline.get()
        if deadline is not None:
            deadline.track(self.sock)

    def _new_conn(self) -> socket.socket:
        try:
            return self._connect_any(resolve_checked(self._dns_host, self.port))
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out (timeout={self.timeout})") from exc
        except OSError as exc:
            raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc

    def _connect_any(self, addresses: list[str]) -> socket.socket:
        error: OSError = OSError("no address")
        for address in addresses:
            try:
                return connection.create_connection((address, self.port), self.timeout,
                                                    source_address=self.source_address,
                                                    socket_options=self.socket_options)
            except TimeoutError:
                raise
            except OSError as exc:
                error = exc
        raise error


class GuardedHTTPConnection(_GuardedMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedMixin, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": GuardedHTTPConnectionPool,
                                                   "https": GuardedHTTPSConnectionPool}


def guarded_session(max_redirects: int = 5) -> requests.Session:
    """A requests Session whose every connection passes the guard."""
    session = requests.Session()
    session.trust_env = False
    session.max_redirects = max_redirects
    adapter = GuardedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session

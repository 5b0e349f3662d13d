"""The HTTP calls' total deadlines (apps/nodes/http_guard.py `Deadline`), all expired by one watcher thread: each at
its own time whatever the order they began in, a finished one never, a blocked read ended by the shutdown, and the
finished ones dropped so the watcher's queue stays bounded."""

from __future__ import annotations

import socket
import threading
import time

from apps.nodes import http_guard
from apps.nodes.http_guard import Deadline


def _wait_for(condition, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_a_shorter_deadline_begun_later_expires_first_and_a_finished_one_never():
    long = Deadline(30).__enter__()
    short = Deadline(0.05).__enter__()  # queued behind the long one's wait: the watcher is woken for it
    done = Deadline(0.05).__enter__()
    done.__exit__(None, None, None)
    assert _wait_for(lambda: short.expired, timeout=2)
    time.sleep(0.1)
    assert not long.expired and not done.expired
    long.__exit__(None, None, None)
    short.__exit__(None, None, None)


def test_expiry_shuts_down_a_blocked_read_of_a_tracked_socket():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    client = socket.create_connection(server.getsockname())
    peer, _ = server.accept()
    outcome: list[object] = []
    with Deadline(0.2) as deadline:
        deadline.track(client)
        reader = threading.Thread(target=lambda: outcome.append(client.recv(10)))  # the peer never writes
        reader.start()
        reader.join(5)
    assert not reader.is_alive() and outcome == [b""] and deadline.expired
    for sock in (client, peer, server):
        sock.close()


def test_many_concurrent_deadlines_each_expire_at_their_time_and_the_queue_stays_bounded():
    finished = [Deadline(60) for _ in range(3 * http_guard._Watcher.COMPACT_EVERY)]
    for deadline in finished:
        deadline.__enter__()
        deadline.__exit__(None, None, None)
    live = [Deadline(0.05 + index * 0.001) for index in range(200)]
    for deadline in live:
        deadline.__enter__()
    assert _wait_for(lambda: all(deadline.expired for deadline in live))
    assert not any(deadline.expired for deadline in finished)
    assert len(http_guard._WATCHER._due) < 2 * http_guard._Watcher.COMPACT_EVERY  # compacted, not 3000 long
    for deadline in live:
        deadline.__exit__(None, None, None)

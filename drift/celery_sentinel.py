"""kombu's Redis Sentinel transport, able to restore unacknowledged messages after a connection loss.

Celery 5.7 collects a broken broker connection (which detaches the kombu Connection from its transport)
before closing the channel; the sentinel channel then needs that Connection again (sentinel addresses,
master name) to hand the unacknowledged messages back to the queue, finds None and raises AttributeError,
which kills the worker ("Unrecoverable error"). This channel keeps its Connection and puts it back for
the close. Selected by CELERY_BROKER_TRANSPORT when REDIS_SENTINELS is set (drift/redis_conn.py).
"""

from __future__ import annotations

from kombu.transport.redis import SentinelChannel, SentinelTransport


class Channel(SentinelChannel):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._owner = self.connection.client

    def close(self) -> None:
        transport = self.connection
        if transport is not None and transport.client is None:
            transport.client = self._owner
        super().close()


class Transport(SentinelTransport):
    Channel = Channel

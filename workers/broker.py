"""Dramatiq brokers: Redis when ``PVIDEO_REDIS_URL`` is set, else in-process.

Dramatiq's Redis broker requeues a dead worker's unacked messages only during
"maintenance", which by default runs on 0.1% of broker calls and only after
the worker's heartbeat is 60 s old: a killed worker's render could wait many
minutes. ``PvideoRedisBroker`` instead runs maintenance on a fixed clock (every
``redis_maintenance_interval`` seconds per queue, on fetches, which idle
workers make about once a second) with a short heartbeat timeout. Heartbeats
are sent on every fetch, and a busy worker keeps fetching its delay queue, so
a live worker is never mistaken for a dead one.

Before each such maintenance, ``_RESCUE`` moves a dead worker's unacknowledged
messages (in flight or prefetched) to the *front* of their queue: dramatiq's own
maintenance would append them to the back, and with a backlog the killed
worker's rows would wait behind every other row.

It also enqueues many messages in one pipelined round trip (``enqueue_many``),
at the back or the front of the queue, and lists which ids have a message
waiting, delayed or in flight (``live_refs``), for the reconciler.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from uuid import uuid4

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import current_millis
from dramatiq.middleware import CurrentMessage

from pvideo.settings import Settings

# KEYS: the namespace. ARGV: now (ms), heartbeat timeout (ms), queue name.
# Dead workers are those whose last heartbeat is older than the timeout; their
# acknowledgement set for the queue holds what they fetched and never finished.
_RESCUE = """
local namespace, queue_name = KEYS[1], ARGV[3]
local dead = redis.call("zrangebyscore", namespace .. ":__heartbeats__", 0, tonumber(ARGV[1]) - tonumber(ARGV[2]))
local moved = 0
for _, worker in ipairs(dead) do
    local acks = namespace .. ":__acks__." .. worker .. "." .. queue_name
    for _, message_id in ipairs(redis.call("smembers", acks)) do
        redis.call("lpush", namespace .. ":" .. queue_name, message_id)
        moved = moved + 1
    end
    redis.call("del", acks)
end
return moved
"""


class PvideoRedisBroker(RedisBroker):
    def __init__(self, *, heartbeat_timeout_ms: int, maintenance_interval: float, **kwargs: Any) -> None:
        super().__init__(heartbeat_timeout=heartbeat_timeout_ms, maintenance_chance=0, **kwargs)
        self.maintenance_interval = maintenance_interval
        self._last_maintenance: dict[str, float] = {}
        self._clock = threading.Lock()
        self._rescue = self.client.register_script(_RESCUE)

    def _maintenance_due(self, command: str, queue_name: str) -> int:
        if command != "fetch":
            return 0
        now = time.monotonic()
        with self._clock:
            if now - self._last_maintenance.get(queue_name, 0.0) < self.maintenance_interval:
                return 0
            self._last_maintenance[queue_name] = now
        return 1

    def _dispatch(self, command: str) -> Callable[..., Any]:
        dispatch = self.scripts["dispatch"]
        keys = [self.namespace]

        def do_dispatch(queue_name: str, *args: Any) -> Any:
            maintenance = self._maintenance_due(command, queue_name)
            if maintenance and not queue_name.endswith(".DQ"):  # delayed messages wait for their time anyway
                self._rescue(keys=keys, args=[current_millis(), self.heartbeat_timeout, queue_name])
            return dispatch(args=self._args(command, queue_name, maintenance, args), keys=keys)

        return do_dispatch

    def _args(self, command: str, queue_name: str, maintenance: int, args: Sequence[Any]) -> list[Any]:
        return [
            command,
            current_millis(),
            queue_name,
            self.broker_id,
            self.heartbeat_timeout,
            self.dead_message_ttl,
            maintenance,
            self._max_unpack_size(),
            *args,
        ]

    def enqueue_many(self, messages: Sequence[dramatiq.Message], *, first: bool = False) -> int:
        """Enqueue ``messages`` (no delay, one queue each) in one pipelined Redis round trip.

        Writes exactly what the broker's ``enqueue`` script writes (the message
        into ``<ns>:<queue>.msgs``, its id onto ``<ns>:<queue>``), but as one
        ``HSET`` and one ``RPUSH`` per queue instead of a script call per message.
        With ``first``, the ids go to the front of the queue (``LPUSH``), in order.
        """
        if not messages:
            return 0
        by_queue: dict[str, list[dramatiq.Message]] = {}
        for message in messages:
            message.options["redis_message_id"] = str(uuid4())  # fresh messages: no copy needed
            self.emit_before("enqueue", message, None)
            by_queue.setdefault(message.queue_name, []).append(message)
        pipe = self.client.pipeline(transaction=True)  # MULTI/EXEC: a batch lands whole or not at all
        for queue_name, batch in by_queue.items():
            full = f"{self.namespace}:{queue_name}"
            ids = [m.options["redis_message_id"] for m in batch]
            pipe.hset(f"{full}.msgs", mapping={i: m.encode() for i, m in zip(ids, batch)})
            if first:
                pipe.lpush(full, *reversed(ids))
            else:
                pipe.rpush(full, *ids)
        pipe.execute()
        for batch in by_queue.values():
            for message in batch:
                self.emit_after("enqueue", message, None)
        return len(messages)

    def queue_depth(self, queue_name: str) -> int:
        """Messages waiting (not yet fetched) on ``queue_name``, delayed retries included."""
        return int(
            self.client.llen(f"{self.namespace}:{queue_name}")
            + self.client.hlen(f"{self.namespace}:{queue_name}.DQ.msgs")
        )

    def live_refs(self, queue_names: Sequence[str]) -> set[str]:
        """The first argument of every message waiting, delayed or in flight on ``queue_names``.

        A message stays in its queue's ``.msgs`` hash from enqueue to ack, so the
        hashes (of each queue and its delay queue) hold exactly the live messages.
        """
        refs: set[str] = set()
        for queue_name in queue_names:
            for key in (f"{self.namespace}:{queue_name}.msgs", f"{self.namespace}:{queue_name}.DQ.msgs"):
                for _, data in self.client.hscan_iter(key, count=1000):
                    refs.update(message_refs(dramatiq.Message.decode(data).args))
        return refs


def message_refs(args: Sequence[Any]) -> list[str]:
    """The ids a message names: its first argument, or each id of a batch message's list."""
    if not args:
        return []
    return [str(ref) for ref in args[0]] if isinstance(args[0], list) else [str(args[0])]


def live_refs(broker: dramatiq.Broker, queue_names: Sequence[str]) -> set[str]:
    """``PvideoRedisBroker.live_refs``; in-process, what waits in the queues (in-flight rows are rendering)."""
    if isinstance(broker, PvideoRedisBroker):
        return broker.live_refs(queue_names)
    refs: set[str] = set()
    if isinstance(broker, StubBroker):
        for queue_name in queue_names:
            for name in (queue_name, f"{queue_name}.DQ"):
                waiting = broker.queues.get(name)
                if waiting is not None:
                    with waiting.mutex:
                        encoded = list(waiting.queue)
                    for message in map(dramatiq.Message.decode, encoded):
                        refs.update(message_refs(message.args))
    return refs


def build_broker(settings: Settings) -> dramatiq.Broker:
    broker: dramatiq.Broker
    if settings.redis_url:
        import redis

        client = redis.Redis.from_url(
            settings.redis_url,
            socket_timeout=30,
            socket_connect_timeout=5,
            health_check_interval=15,
            retry_on_timeout=True,
        )
        broker = PvideoRedisBroker(
            client=client,
            heartbeat_timeout_ms=int(settings.redis_heartbeat_timeout * 1000),
            maintenance_interval=settings.redis_maintenance_interval,
            namespace=settings.redis_namespace,
        )
    else:
        broker = StubBroker()
    broker.add_middleware(CurrentMessage())
    return broker


def enqueue_many(broker: dramatiq.Broker, messages: Sequence[dramatiq.Message], *, first: bool = False) -> int:
    """One round trip on Redis (``first``: at the front of the queue); one call per message elsewhere."""
    if isinstance(broker, PvideoRedisBroker):
        return broker.enqueue_many(messages, first=first)
    for message in messages:
        broker.enqueue(message)
    return len(messages)


def is_embedded(broker: dramatiq.Broker) -> bool:
    return isinstance(broker, StubBroker)

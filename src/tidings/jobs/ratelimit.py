"""Per-host politeness shared by every process: the host gate kept in Redis.

The in-process `HostGate` (ingest/polite.py) holds within one process; with several workers
on several machines each would allow its own share and a publisher would see N times the
rate. Here the same three rules live in Redis, decided by Lua scripts (atomic) on Redis'
own clock (`TIME`), so machines with skewed clocks still agree:

- concurrency: a sorted set of slot holders per host, each with an expiry (a worker that
  dies mid-request frees its slot when the lease runs out);
- rate: the next allowed request start per host, pushed forward by the minimum delay at
  each start (the same spacing the in-process gate keeps, across all workers);
- Retry-After: a key per host that lives as long as the publisher asked us to wait.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from tidings.ingest.polite import HostGate

PREFIX = "tidings:host:"
# A slot is leased for this long; a request never runs longer (fetch_total_timeout_s is
# lower), so only a dead worker's slot ever expires.
SLOT_LEASE_MS = 120_000
_POLL_S = 0.02

# KEYS[1] slots zset; ARGV: limit, token, lease_ms. Returns 1 when the slot is taken.
_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
  return 1
end
return 0
"""

# KEYS[1] next-start key; ARGV: delay_ms. Reserves the next start; returns ms to wait for it.
_RESERVE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local start = math.max(now_ms, tonumber(redis.call('GET', KEYS[1]) or '0'))
local delay = tonumber(ARGV[1])
redis.call('SET', KEYS[1], start + delay, 'PX', start - now_ms + delay + 1000)
return start - now_ms
"""

# KEYS[1] hold key; ARGV: ms. Extends the hold, never shortens it.
_HOLD = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
"""


class RedisHostGate(HostGate):
    """`HostGate` with its state in Redis: the limits hold across processes and machines."""

    def __init__(self, redis_url: str, concurrency: int, min_delay_s: float) -> None:
        super().__init__(concurrency, min_delay_s)
        self.client = redis.Redis.from_url(redis_url)
        self._acquire = self.client.register_script(_ACQUIRE)
        self._reserve = self.client.register_script(_RESERVE)
        self._hold = self.client.register_script(_HOLD)

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        """Wait for a free slot on `host` (among all workers) and its turn by the rate limit."""
        self.refuse_if_held(host)
        slots = f"{PREFIX}{host}:slots"
        token = uuid.uuid4().hex
        while not self._acquire(keys=[slots], args=[self.concurrency, token, SLOT_LEASE_MS]):
            time.sleep(_POLL_S)
        try:
            if self.min_delay_s > 0:
                wait_ms = int(
                    self._reserve(
                        keys=[f"{PREFIX}{host}:next"], args=[int(self.min_delay_s * 1000)]
                    )
                )
                if wait_ms > 0:
                    time.sleep(wait_ms / 1000)
            yield
        finally:
            self.client.zrem(slots, token)

    def hold(self, host: str, seconds: float) -> None:
        self._hold(keys=[f"{PREFIX}{host}:held"], args=[max(1, int(seconds * 1000))])

    def held_for(self, host: str) -> float:
        remaining = int(self.client.pttl(f"{PREFIX}{host}:held"))
        return max(0.0, remaining / 1000)

    def close(self) -> None:
        self.client.close()

"""The shared cache (Redis, docs/interface.md §10): Django's backend, keeping one redis client
per connection pool.

Django's `RedisCacheClient.get_client` builds a new `redis.Redis` on every call, and with it
its table of some 170 response callbacks: on a signed-in page (its session read from the cache)
that cost about as much CPU as the round trip itself, and a redemption asks three times (its
session and its guessing slot, wallet/guessing.py). A `redis.Redis` is thread-safe and holds no
connection of its own (it takes one from the pool per command), so one per pool is kept and
handed out again. Everything else is Django's.
"""

from django.core.cache.backends import redis as django_redis


class _Client(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}  # by id of the pool, which this object's `_pools` keeps alive

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    """`django.core.cache.backends.redis.RedisCache` with its clients kept (above)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _Client

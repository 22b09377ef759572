"""The shared cache's backend (config/cache.py): one redis client per connection pool, not a
new one (with its table of response callbacks) on every cache call."""

import redis

from config.cache import RedisCache


def test_every_cache_call_reuses_one_client_per_pool(monkeypatch):
    built = []
    original = redis.Redis.__init__

    def counting(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counting)
    # Nothing connects until a command is sent: an address nobody serves is enough here.
    backend = RedisCache("redis://127.0.0.1:9/0", {})

    clients = {id(backend._cache.get_client(write=write)) for write in (True, False) * 10}

    assert len(clients) == 1
    assert len(built) == 1


def test_each_server_keeps_a_client_of_its_own():
    backend = RedisCache("redis://127.0.0.1:9/0,redis://127.0.0.1:9/1", {})

    writer = backend._cache.get_client(write=True)
    reader = backend._cache.get_client(write=False)  # the second server: the only reader

    assert writer is not reader
    assert writer.connection_pool is not reader.connection_pool
    assert backend._cache.get_client(write=False) is reader

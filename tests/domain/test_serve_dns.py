"""rehsos-serve resolves host names afresh: a container restarted with a new address is reached.

Found with the compose smoke test (make compose-smoke): podman's DNS answers with a TTL of a day,
eventlet's resolver cached the broker's old address, and the hub never reconnected after its
broker container restarted.
"""
from eventlet.support import greendns

from rehsos import serve


def test_serve_turns_off_eventlets_dns_cache():
    proxy = greendns.resolver
    saved = proxy._cached_resolver
    try:
        proxy._cached_resolver = None
        serve.resolve_afresh()
        assert proxy._resolver.cache is None
    finally:
        proxy._cached_resolver = saved

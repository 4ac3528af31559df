"""The node's token store as a nameko extension, shared by the HTTP and RPC entry points."""
from __future__ import annotations

from functools import partial

from nameko.extensions import DependencyProvider, SharedExtension

from rehsos import auth
from rehsos.db import create_engine


class TokenStoreExtension(SharedExtension):
    """The node's token store (its own small database, owned by the kernel)."""

    def setup(self):
        settings = self.container.config["REHSOS"]
        self.engine = create_engine(settings.auth_database_uri)
        self.store = auth.TokenStore(self.engine)

    def stop(self):
        self.engine.dispose()


class Tokens(DependencyProvider):
    """For the few handlers that check a token themselves (the sign-in page)."""
    tokens = TokenStoreExtension()

    def get_dependency(self, worker_ctx):
        settings = self.container.config["REHSOS"]
        return partial(auth.authorize, self.tokens.store, node=settings.node)

"""The node's token and session stores as a nameko extension, shared by the HTTP and RPC entry points."""
from __future__ import annotations

from datetime import timedelta

from nameko.extensions import SharedExtension

from rehsos import auth
from rehsos.db import create_engine


class TokenStoreExtension(SharedExtension):
    """The node's token store and page sessions (its own small database, owned by the kernel)."""

    def setup(self):
        settings = self.container.config["REHSOS"]
        self.engine = create_engine(settings.auth_database_uri)
        self.store = auth.TokenStore(self.engine)
        self.sessions = auth.SessionStore(self.engine, idle=timedelta(minutes=settings.http["session_idle_minutes"]),
                                          absolute=timedelta(hours=settings.http["session_max_hours"]))

    def stop(self):
        self.engine.dispose()

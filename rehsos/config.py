"""The one configuration loader: YAML file, then ``REHSOS_*`` environment overrides.

Every service, the relay and the CLI read their settings through :func:`load`.
A node config names the node's region code, its broker, its databases and the hub's broker;
the hub's config has ``node: hub``.

Key custody: the province's ``person_key_secret`` (the key of the NIK hash) is held by the nodes
only. The hub compares person keys and never computes one, so a hub config that names the key is
refused. A node's services refuse to start without the key, or with the public development key
unless ``dev_mode: true`` (written by ``rehsos up`` and the test harness, never in production).
Tools that touch no NIK (migrate, bootstrap, token) load a node config without the key.

Dossier keys (``rehsos.sealing``): a node's ``dossier_private_key`` (base64 Curve25519) is its
own secret, like the person key; ``node_public_keys`` (node code: base64 public key) is part of
the topology, the same in every node's config. A node without its private key still runs but
neither sends nor receives referral dossiers (``Settings.dossier_problem`` says why); the hub
holds no dossier key: it relays dossiers it cannot read.

Environment overrides: ``REHSOS_<KEY>`` replaces a top-level key (``REHSOS_BROKER_URI``),
``REHSOS_<KEY>__<SUB>`` a nested one (``REHSOS_HTTP__PORT``). Values stay text until the
schema loads them, so ``REHSOS_HTTP__PORT=8171`` becomes an integer and an all-digit secret
stays a string.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from rehsos import reference, sealing

ENV_PREFIX = "REHSOS_"
HUB = "hub"
# The public development key: a node uses it only in dev_mode (see `Settings.require_servable`).
DEV_PERSON_KEY_SECRET = "dev-only-provincial-secret-change-me"


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key and why."""


class _HttpSchema(Schema):
    host = fields.Str(load_default="127.0.0.1")
    port = fields.Int(load_default=8000, validate=validate.Range(1, 65535))
    public_url = fields.Str(load_default=None, allow_none=True)
    max_body_bytes = fields.Int(load_default=64 * 1024, validate=validate.Range(min=1024))
    # Files (training materials) and batches (offline check-ins as CSV) may be larger.
    max_upload_bytes = fields.Int(load_default=10 * 1024 * 1024, validate=validate.Range(min=1024))
    # A signed-in page session ends after this much inactivity, and at the latest this long after sign-in.
    session_idle_minutes = fields.Int(load_default=30, validate=validate.Range(1, 24 * 60))
    session_max_hours = fields.Int(load_default=8, validate=validate.Range(1, 24))
    # Seconds a client may stay silent mid-request or idle between requests before it is dropped:
    # without it, connections that never finish hold server threads for ever.
    socket_timeout = fields.Float(load_default=30.0, validate=validate.Range(min=0.1))
    # Several processes of the node on one port (SO_REUSEPORT: the kernel spreads connections over
    # them), each with all of the node's services; off by default, so that a second process
    # started by mistake fails instead of silently taking half of the requests.
    share_port = fields.Bool(load_default=False)


class _RelaySchema(Schema):
    poll_interval = fields.Float(load_default=0.5, validate=validate.Range(min=0.01))
    batch_size = fields.Int(load_default=100, validate=validate.Range(min=1))
    max_backoff = fields.Float(load_default=10.0, validate=validate.Range(min=0.1))


class _ConsumerSchema(Schema):
    # A failing event is redelivered after base * 2^(attempt - 1) seconds, at most cap.
    retry_base = fields.Float(load_default=0.5, validate=validate.Range(min=0.01))
    retry_cap = fields.Float(load_default=60.0, validate=validate.Range(min=0.05))
    # A batch consumer (the hub's) applies up to batch_size deliveries in one transaction, taking
    # what arrived while the previous batch was applied, or waiting batch_wait seconds for more.
    batch_size = fields.Int(load_default=200, validate=validate.Range(1, 5000))
    batch_wait = fields.Float(load_default=0.01, validate=validate.Range(min=0))


class _SettingsSchema(Schema):
    node = fields.Str(required=True)
    broker_uri = fields.Str(required=True)
    hub_broker_uri = fields.Str(load_default=None, allow_none=True)
    management_uri = fields.Str(load_default="http://guest:guest@127.0.0.1:15672")
    # `{service}` is replaced by the service name: one database per service.
    database_uri = fields.Str(required=True)
    auth_database_uri = fields.Str(required=True)
    person_key_secret = fields.Str(load_default=None, allow_none=True, validate=validate.Length(min=16))
    dev_mode = fields.Bool(load_default=False)
    dossier_private_key = fields.Str(load_default=None, allow_none=True)
    node_public_keys = fields.Dict(keys=fields.Str(), values=fields.Str(), load_default=dict)
    # A missing section gets its defaults (marshmallow would hand the bare default through unloaded).
    http = fields.Nested(_HttpSchema, load_default=lambda: _HttpSchema().load({}))
    relay = fields.Nested(_RelaySchema, load_default=lambda: _RelaySchema().load({}))
    consumer = fields.Nested(_ConsumerSchema, load_default=lambda: _ConsumerSchema().load({}))
    log_level = fields.Str(load_default="INFO")
    # json: one JSON object a line, for a log collector (the default); text: for a person reading
    # var/log (`rehsos up` writes it into its development configs).
    log_format = fields.Str(load_default="json", validate=validate.OneOf(("json", "text")))
    # GET /metrics carries no personal data, only route templates (public in the OpenAPI document
    # anyway), counts and ages: readable by whoever reaches the port, as Prometheus scrapes it from
    # the internal network. A node whose port is reachable from outside sets metrics_public: false
    # and metrics_token, which Prometheus sends as its bearer token (no user's token is needed).
    metrics_public = fields.Bool(load_default=True)
    metrics_token = fields.Str(load_default=None, allow_none=True, validate=validate.Length(min=16))
    # How often facilities looks for bed reservations nobody came for (seconds).
    reservation_sweep_interval = fields.Float(load_default=60.0, validate=validate.Range(min=0.1))
    # How often the hub looks for gaps in the nodes' streams and asks for them again (seconds).
    gap_repair_interval = fields.Float(load_default=30.0, validate=validate.Range(min=0.1))
    # How often every node service sends `node.heartbeat` (seconds); the hub calls a node late
    # after two intervals without hearing from it, so hub and nodes should agree on it.
    heartbeat_interval = fields.Float(load_default=3600.0, validate=validate.Range(min=0.1))
    # Prefix of vhost and broker-user names; tests use one per test to stay apart.
    broker_namespace = fields.Str(load_default="")

    @validates_schema
    def _check_node(self, data, **kwargs):
        node = data.get("node")
        if node != HUB and node not in reference.REGIONS:
            raise ValidationError(
                f"unknown node {node!r}: use 'hub' or a region code of Kalimantan Selatan", "node"
            )
        if node != HUB and not data.get("hub_broker_uri"):
            raise ValidationError("a node needs the hub's broker URI", "hub_broker_uri")
        if node == HUB and data.get("person_key_secret") is not None:
            raise ValidationError("the hub must not hold the province's person key: nodes compute person keys, "
                                  "the hub only compares them (remove it and REHSOS_PERSON_KEY_SECRET from the "
                                  "hub's configuration)", "person_key_secret")
        self._check_dossier_keys(data)
        if data.get("metrics_public") is False and not data.get("metrics_token"):
            raise ValidationError("metrics_public: false needs a metrics_token (REHSOS_METRICS_TOKEN) for Prometheus "
                                  "to send as its bearer token", "metrics_token")

    @staticmethod
    def _check_dossier_keys(data):
        node, private = data.get("node"), data.get("dossier_private_key")
        if node == HUB and private is not None:
            raise ValidationError("the hub must not hold a dossier key: it relays dossiers it cannot read (remove it "
                                  "and REHSOS_DOSSIER_PRIVATE_KEY from the hub's configuration)", "dossier_private_key")
        if private is not None and (problem := sealing.key_problem(private, "dossier private key")):
            raise ValidationError(problem, "dossier_private_key")  # the message names no part of the key
        for code, public in (data.get("node_public_keys") or {}).items():
            if code not in reference.NODES:
                raise ValidationError(f"unknown node {code!r}", "node_public_keys")
            if problem := sealing.key_problem(public, f"public key of node {code}"):
                raise ValidationError(problem, "node_public_keys")
        published = (data.get("node_public_keys") or {}).get(node)
        if private is not None and published is not None and sealing.public_key_of(private) != published:
            raise ValidationError(f"dossier_private_key is not the key of node {node}'s public key in "
                                  "node_public_keys: other nodes would seal dossiers this node cannot open",
                                  "dossier_private_key")

    @post_load
    def _dev_key(self, data, **kwargs):
        if data["node"] != HUB and data["person_key_secret"] is None and data["dev_mode"]:
            data["person_key_secret"] = DEV_PERSON_KEY_SECRET
        return data


@dataclass(frozen=True)
class Settings:
    node: str
    broker_uri: str
    database_uri: str
    auth_database_uri: str
    hub_broker_uri: str | None = None
    management_uri: str = "http://guest:guest@127.0.0.1:15672"
    person_key_secret: str | None = None
    dev_mode: bool = False
    dossier_private_key: str | None = field(default=None, repr=False)  # a secret: never in a repr or a log
    node_public_keys: Mapping[str, str] = field(default_factory=dict)
    http: Mapping[str, Any] = field(default_factory=dict)
    relay: Mapping[str, Any] = field(default_factory=dict)
    consumer: Mapping[str, Any] = field(default_factory=lambda: {"retry_base": 0.5, "retry_cap": 60.0,
                                                                 "batch_size": 200, "batch_wait": 0.01})
    log_level: str = "INFO"
    log_format: str = "json"
    metrics_public: bool = True
    metrics_token: str | None = field(default=None, repr=False)  # a secret: never in a repr or a log
    reservation_sweep_interval: float = 60.0
    gap_repair_interval: float = 30.0
    heartbeat_interval: float = 3600.0
    broker_namespace: str = ""

    @property
    def names(self):
        from rehsos.topology import Names

        return Names(self.broker_namespace)

    @property
    def is_hub(self) -> bool:
        return self.node == HUB

    @property
    def is_dev_secret(self) -> bool:
        return self.person_key_secret == DEV_PERSON_KEY_SECRET

    def require_servable(self) -> None:
        """Refuse to run a node's services without the province's key, or with the public one
        outside development (whoever knows the key can brute-force a NIK from its hash)."""
        if self.is_hub:
            return
        if self.person_key_secret is None:
            raise ConfigError(f"node {self.node}: person_key_secret is not set; every node needs the province's "
                              "key (REHSOS_PERSON_KEY_SECRET)")
        if self.is_dev_secret and not self.dev_mode:
            raise ConfigError(f"node {self.node}: person_key_secret is the public development key; set the "
                              "province's key (REHSOS_PERSON_KEY_SECRET), or dev_mode: true on a development "
                              "machine only")

    def dossier_problem(self, peer: str | None = None) -> str | None:
        """Why this node cannot open dossiers (or seal one for ``peer``), or None."""
        if self.dossier_private_key is None:
            return (f"node {self.node} has no dossier_private_key (REHSOS_DOSSIER_PRIVATE_KEY): it can neither send "
                    "nor receive referral dossiers; referrals still go, with category, sex and age band only")
        if peer is not None and peer not in self.node_public_keys:
            return f"no public key of node {peer} in node_public_keys: no dossier can be sealed for it"
        return None

    @property
    def over_https(self) -> bool:
        """Served to browsers over HTTPS (a proxy in front): cookies then carry Secure."""
        return (self.http.get("public_url") or "").lower().startswith("https://")

    def database_uri_for(self, service: str) -> str:
        return self.database_uri.replace("{service}", service)

    @property
    def http_address(self) -> str:
        return f"{self.http['host']}:{self.http['port']}"

    @property
    def base_url(self) -> str:
        if self.http.get("public_url"):
            return self.http["public_url"].rstrip("/")
        host = self.http["host"]
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{host}:{self.http['port']}"

    def nameko_config(self) -> dict:
        """The dict nameko's containers read; our own keys ride along under REHSOS."""
        return {
            "AMQP_URI": self.broker_uri,
            "WEB_SERVER_ADDRESS": self.http_address,
            "max_workers": 10,
            "REHSOS": self,
        }


_SCOPED = re.compile(r"^REHSOS_(HUB|NODE_\d+)__")


def scoped_environ(environ: Mapping[str, str], stem: str) -> dict[str, str]:
    """The environment for one of several config files read by one process (``rehsos bootstrap``).

    Plain ``REHSOS_<KEY>`` applies to every file; ``REHSOS_HUB__<KEY>`` only to ``hub.yaml`` and
    ``REHSOS_NODE_6371__<KEY>`` only to ``node-6371.yaml``, so each node's secrets stay its own.
    """
    prefix = f"REHSOS_{stem.upper().replace('-', '_')}__"
    env = {k: v for k, v in environ.items() if not _SCOPED.match(k)}
    env.update({"REHSOS_" + k[len(prefix):]: v for k, v in environ.items() if k.startswith(prefix)})
    return env


def apply_env_overrides(data: dict, environ: Mapping[str, str]) -> dict:
    result = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == "REHSOS_CONFIG":
            continue
        path = name[len(ENV_PREFIX):].lower().split("__")
        target = result
        for part in path[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError(f"{name}: {part} is not a section")
        target[path[-1]] = raw
    return result


def load(path: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None,
         **overrides: Any) -> Settings:
    """Read settings from ``path`` (or ``$REHSOS_CONFIG``), then the environment, then ``overrides``."""
    environ = os.environ if environ is None else environ
    path = path or environ.get("REHSOS_CONFIG")
    data: dict = {}
    if path:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"configuration file not found: {path}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"configuration file {path} is not valid YAML: {exc}") from None
    if "node" in data and data["node"] is not None:
        data["node"] = str(data["node"])
    data = apply_env_overrides(data, environ)
    data.update(overrides)
    try:
        loaded = _SettingsSchema().load(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration{f' in {path}' if path else ''}: {exc.messages}") from None
    return Settings(**loaded)

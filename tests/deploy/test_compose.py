"""The containerised province (docker-compose.yml, deploy/): checked without a Docker engine.

Pure tests: they parse the compose file, the configs and the env files, regenerate what is
generated, and run the broker entrypoint script with a stand-in for RabbitMQ. See
deploy/README.md for the layout they check.
"""
from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import resource
import shutil
import stat
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from rehsos import config, registry
from rehsos_tools import broker as mq, devrun
ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy"
CONFIG_DIR = DEPLOY / "config"
RABBITMQ_DIR = DEPLOY / "rabbitmq"
ENV_DIR = DEPLOY / "env"
CONFIG_MOUNT = "/etc/rehsos"
REHSOS_IMAGE = "rehsos-kalsel:"


def _load_make_env():
    spec = importlib.util.spec_from_file_location("rehsos_deploy_make_env", DEPLOY / "make_env.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_env = _load_make_env()
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
# The placeholder env files, exactly as example.env shows them: {file name: {variable: value}}.
PLACEHOLDER_ENV = make_env.render(CONFIG_DIR, placeholders=True)


def raw_config(name: str) -> dict:
    return yaml.safe_load((CONFIG_DIR / name).read_text())


def offices() -> dict[str, str]:
    """{office key: config file name}: 'hub' and every node code with a config file."""
    result = {"hub": "hub.yaml"}
    for path in sorted(CONFIG_DIR.glob("node-*.yaml")):
        result[str(raw_config(path.name)["node"])] = path.name
    return result


NODES = [key for key in offices() if key != "hub"]


def app_service(key: str) -> str:
    return "hub" if key == "hub" else f"node-{key}"


def by_image(prefix: str) -> dict[str, dict]:
    return {name: svc for name, svc in SERVICES.items() if str(svc.get("image", "")).startswith(prefix)}


def rehsos_command(name: str) -> tuple[str, str | None]:
    """(subcommand, config path) of a rehsos container."""
    cmd = SERVICES[name]["command"]
    path = None
    for flag in ("--config", "--config-dir"):
        if flag in cmd:
            path = cmd[cmd.index(flag) + 1]
    return cmd[0], path


def host_path(container_path: str) -> Path:
    assert container_path.startswith(CONFIG_MOUNT + "/") or container_path == CONFIG_MOUNT, container_path
    return CONFIG_DIR / container_path[len(CONFIG_MOUNT):].lstrip("/")


def service_environ(name: str, env_files: dict[str, dict[str, str]] | None = None) -> dict[str, str]:
    """What a container's process sees: its env_file entries in order, then `environment:`."""
    env_files = PLACEHOLDER_ENV if env_files is None else env_files
    svc = SERVICES[name]
    environ: dict[str, str] = {}
    for entry in svc.get("env_file", []):
        environ.update(env_files[Path(entry).name])
    environ.update({k: str(v) for k, v in (svc.get("environment") or {}).items()})
    return environ


def depends(name: str) -> dict[str, str]:
    deps = SERVICES[name].get("depends_on", {})
    assert isinstance(deps, dict), f"{name}: depends_on must name a condition for each dependency"
    return {dep: spec["condition"] for dep, spec in deps.items()}


def bind_mounts(name: str) -> dict[str, str]:
    """{container path: host path} of a service's bind mounts (./...)."""
    mounts = {}
    for volume in SERVICES[name].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            mounts[target] = source
    return mounts


def named_volumes(name: str) -> dict[str, str]:
    mounts = {}
    for volume in SERVICES[name].get("volumes", []):
        source, target = volume.split(":")[:2]
        if not source.startswith(("./", "/")):
            mounts[target] = source
    return mounts


# -- the proposed per-config overrides of `rehsos bootstrap` (deploy/README.md) ---------------------
SCOPED = re.compile(r"^REHSOS_(HUB|NODE_\d+)__")


def load_configs_scoped(config_dir, environ) -> tuple[config.Settings, list[config.Settings]]:
    return devrun.load_configs(config_dir, environ)


# -- shape of the province ---------------------------------------------------------------------------
def test_the_province_has_the_hub_the_province_office_and_two_regencies():
    assert {"hub", "63", "6371", "6303"} <= set(offices())


@pytest.mark.parametrize("key", list(offices()))
def test_every_office_has_its_own_broker_database_migration_and_services(key):
    for name in (f"broker-{key}", f"db-{key}", f"migrate-{key}", app_service(key)):
        assert name in SERVICES, f"office {key}: service {name} missing from docker-compose.yml"
    assert SERVICES[f"broker-{key}"]["image"].startswith("rabbitmq:3.10")
    assert SERVICES[f"db-{key}"]["image"].startswith("postgres:")
    assert SERVICES[app_service(key)]["image"].startswith(REHSOS_IMAGE)

    settings = config.load(CONFIG_DIR / offices()[key], environ=service_environ(app_service(key)))
    assert urlsplit(settings.broker_uri).hostname == f"broker-{key}"
    assert urlsplit(settings.management_uri).hostname == f"broker-{key}"
    for service in (s.name for s in registry.at(key if key == "hub" else "node")):
        assert urlsplit(settings.database_uri_for(service)).hostname == f"db-{key}"
    assert urlsplit(settings.auth_database_uri).hostname == f"db-{key}"
    if key != "hub":
        assert urlsplit(settings.hub_broker_uri).hostname == "broker-hub"


def test_no_two_offices_share_a_broker_database_or_volume():
    brokers, databases, volumes = [], [], []
    for key, filename in offices().items():
        cfg = raw_config(filename)
        brokers.append(urlsplit(cfg["broker_uri"]).hostname)
        databases.append(urlsplit(cfg["database_uri"]).hostname)
    for name in list(by_image("rabbitmq:")) + list(by_image("postgres:")):
        assert named_volumes(name), f"{name}: its data must live on a named volume"
        volumes += named_volumes(name).values()
    assert len(set(brokers)) == len(brokers) == len(offices())
    assert len(set(databases)) == len(databases) == len(offices())
    assert len(set(volumes)) == len(volumes)
    assert set(volumes) <= set(COMPOSE.get("volumes", {})), "data volumes must be declared as named volumes"
    assert {"/var/lib/rabbitmq"} == {t for n in by_image("rabbitmq:") for t in named_volumes(n)}
    assert {"/var/lib/postgresql/data"} == {t for n in by_image("postgres:") for t in named_volumes(n)}


def test_only_the_offices_are_rehsos_processes():
    expected = {app_service(k) for k in offices()} | {f"migrate-{k}" for k in offices()} | {"bootstrap"}
    assert set(by_image(REHSOS_IMAGE)) == expected
    assert set(SERVICES) == expected | {f"broker-{k}" for k in offices()} | {f"db-{k}" for k in offices()}


# -- dependencies and health ------------------------------------------------------------------------------
@pytest.mark.parametrize("key", list(offices()))
def test_services_wait_for_their_migration_job_broker_and_database(key):
    name = app_service(key)
    assert rehsos_command(name) == ("serve", f"{CONFIG_MOUNT}/{offices()[key]}")
    assert depends(name) == {f"migrate-{key}": "service_completed_successfully",
                             f"db-{key}": "service_healthy", f"broker-{key}": "service_healthy"}
    assert rehsos_command(f"migrate-{key}") == ("migrate", f"{CONFIG_MOUNT}/{offices()[key]}")
    assert depends(f"migrate-{key}") == {f"db-{key}": "service_healthy"}
    assert SERVICES[f"migrate-{key}"]["restart"] == "no"


def test_every_long_running_service_has_a_healthcheck():
    for name, svc in SERVICES.items():
        kind = rehsos_command(name)[0] if name in by_image(REHSOS_IMAGE) else None
        if kind in ("migrate", "bootstrap"):
            continue
        test = svc.get("healthcheck", {}).get("test")
        assert test, f"{name} has no healthcheck"
        text = " ".join(test) if isinstance(test, list) else test
        if name in by_image("rabbitmq:"):
            assert "rabbitmq-diagnostics -q ping" in text
        elif name in by_image("postgres:"):
            assert "pg_isready" in text and "-h 127.0.0.1" in text
        else:
            assert kind == "serve"
            assert "/api/v1/health" in text and "urllib" in text


@pytest.mark.parametrize("key", list(offices()))
def test_app_healthcheck_and_published_port_match_the_config(key):
    name = app_service(key)
    port = raw_config(offices()[key])["http"]["port"]
    assert raw_config(offices()[key])["http"]["host"] == "0.0.0.0"
    test = " ".join(SERVICES[name]["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/api/v1/health" in test
    assert SERVICES[name]["ports"] == [f"{port}:{port}"]


def test_ports_are_published_for_the_hub_and_the_nodes_only():
    published = {name: svc["ports"] for name, svc in SERVICES.items() if svc.get("ports")}
    assert set(published) == {app_service(key) for key in offices()}
    assert {"hub": ["8000:8000"], "node-63": ["8100:8100"], "node-6371": ["8171:8171"],
            "node-6303": ["8103:8103"]}.items() <= published.items()
    ports = [p for values in published.values() for p in values]
    assert len(set(ports)) == len(ports)
    for name, svc in SERVICES.items():
        assert "expose" not in svc and svc.get("network_mode") != "host", name


def test_bootstrap_waits_for_every_broker_and_reaches_them():
    assert rehsos_command("bootstrap") == ("bootstrap", CONFIG_MOUNT)
    assert depends("bootstrap") == {f"broker-{key}": "service_healthy" for key in offices()}
    assert SERVICES["bootstrap"]["restart"] == "no"
    networks = set(SERVICES["bootstrap"]["networks"])
    for key in offices():
        assert networks & set(SERVICES[f"broker-{key}"]["networks"]), f"bootstrap cannot reach broker-{key}"


def test_node_brokers_reach_the_hub_broker_and_services_only_their_own_office():
    hub_networks = set(SERVICES["broker-hub"]["networks"])
    for key in NODES:
        assert set(SERVICES[f"broker-{key}"]["networks"]) & hub_networks, f"broker-{key} cannot dial broker-hub"
    for key in offices():
        own = {f"broker-{key}", f"db-{key}", f"migrate-{key}", app_service(key)}
        reachable = set()
        for net in SERVICES[app_service(key)]["networks"]:
            reachable |= {n for n, s in SERVICES.items() if net in s.get("networks", [])}
        assert reachable == own, f"{app_service(key)} sees {sorted(reachable - own)}"


# -- images --------------------------------------------------------------------------------------------------
def test_images_are_pinned():
    for name, svc in SERVICES.items():
        image = svc.get("image")
        assert image, f"{name} has no image"
        repo, _, tag = image.rpartition(":")
        assert repo and tag and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image}"
    assert SERVICES["broker-hub"]["image"] == "rabbitmq:3.10-management"
    assert SERVICES["db-hub"]["image"] == "postgres:15"


def test_one_rehsos_image_for_every_process():
    images = {svc["image"] for svc in by_image(REHSOS_IMAGE).values()}
    builds = {json.dumps(svc.get("build"), sort_keys=True) for svc in by_image(REHSOS_IMAGE).values()}
    assert len(images) == 1 and len(builds) == 1
    build = next(iter(by_image(REHSOS_IMAGE).values()))["build"]
    assert (ROOT / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"


def test_dockerfile():
    text = (DEPLOY / "Dockerfile").read_text()
    bases = re.findall(r"^ARG BASE=(\S+)", text, re.M)
    assert bases == ["python:3.11-slim"]
    for line in re.findall(r"^FROM\s+(\S+)", text, re.M):
        assert line == "${BASE}", f"unpinned base image {line}"
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["rehsos"\]$', text, re.M)
    # Offline: only the host-built wheelhouse, never an index.
    installs = re.findall(r"pip install ([^\n]*)", text)
    assert installs and all("--no-index" in i and "rehsos-kalsel" in i for i in installs), installs
    assert "source=var/wheelhouse" in text


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_build():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert {"deploy/env", ".venv", "var", "**/*.env"} <= set(patterns)
    # Of var/, only the wheelhouse enters the context (re-included after `var`).
    assert [p for p in patterns if p.startswith("!")] == ["!var/wheelhouse"]
    assert patterns.index("!var/wheelhouse") > patterns.index("var")


def test_local_base_image_recipes_name_an_official_image_and_a_local_tag():
    import tomllib
    for name in ("python", "rabbitmq", "postgres"):
        recipe = tomllib.loads((DEPLOY / "images" / name / "recipe.toml").read_text())
        assert recipe["official"].startswith("docker.io/") and recipe["tag"].startswith("localhost/")
        assert recipe["packages"] and all(c.split()[0] in {"ENV", "CMD", "ENTRYPOINT", "EXPOSE", "STOPSIGNAL"}
                                          for c in recipe["changes"])
    # The compose file's short names resolve to the local tags in podman's local storage.
    assert "localhost/" + SERVICES["broker-hub"]["image"] == tomllib.loads(
        (DEPLOY / "images" / "rabbitmq" / "recipe.toml").read_text())["tag"]
    assert "localhost/" + SERVICES["db-hub"]["image"] == tomllib.loads(
        (DEPLOY / "images" / "postgres" / "recipe.toml").read_text())["tag"]


# -- secrets ---------------------------------------------------------------------------------------------------
SECRET_NAME = re.compile(r"pass|secret|token|key|cookie", re.I)
PLACEHOLDER_VALUES = {v for values in PLACEHOLDER_ENV.values() for v in values.values()}


def test_no_secrets_inline_in_the_compose_file():
    text = COMPOSE_FILE.read_text()
    assert "change-me" not in text
    for name, svc in SERVICES.items():
        for key, value in (svc.get("environment") or {}).items():
            assert not SECRET_NAME.search(key), f"{name}: {key} must come from an env_file"
            assert not urlsplit(str(value)).password, f"{name}: {key} carries a password"
        for entry in svc.get("env_file", []):
            path = (ROOT / entry).resolve()
            assert path.parent == ENV_DIR and path.name != "example.env", f"{name}: env_file {entry}"
    for match in re.finditer(r"\w+://[^\s\"']+", text):
        assert not urlsplit(match.group()).password, f"password in {match.group()}"
    assert not re.search(r"\$\{?\w*(PASS|SECRET)", text, re.I), "no secrets through compose interpolation either"


def test_no_secrets_in_the_config_files():
    for key, filename in offices().items():
        cfg = raw_config(filename)
        if key == "hub":
            assert "person_key_secret" not in cfg, "the hub must not hold the province's person key"
        else:
            assert cfg["person_key_secret"] is None, f"{filename}: the provincial key comes from REHSOS_PERSON_KEY_SECRET"
        for key, value in cfg.items():
            if isinstance(value, str) and "://" in value:
                assert not urlsplit(value).password, f"{filename}: {key} carries a password"


def test_env_files_are_ignored_by_git_except_the_example():
    lines = [line.strip() for line in (ENV_DIR / ".gitignore").read_text().splitlines()]
    assert "*" in lines and "!example.env" in lines and "!.gitignore" in lines
    git = shutil.which("git")
    if git and (ROOT / ".git").exists():
        for filename in PLACEHOLDER_ENV:
            result = subprocess.run([git, "check-ignore", "-q", f"deploy/env/{filename}"], cwd=ROOT)
            assert result.returncode == 0, f"deploy/env/{filename} would be committed"
        tracked = subprocess.run([git, "ls-files", "deploy/env"], cwd=ROOT, capture_output=True, text=True)
        assert set(tracked.stdout.split()) <= {"deploy/env/.gitignore", "deploy/env/example.env"}


def test_every_env_file_the_compose_file_names_is_in_the_example():
    named = {Path(e).name for svc in SERVICES.values() for e in svc.get("env_file", [])}
    example = make_env.split_example((ENV_DIR / "example.env").read_text())
    assert named == set(example) == set(PLACEHOLDER_ENV)


def test_example_env_is_what_make_env_generates():
    assert (ENV_DIR / "example.env").read_text() == make_env.example(CONFIG_DIR), (
        "deploy/env/example.env is stale: .venv/bin/python deploy/make_env.py --example > deploy/env/example.env")
    example = make_env.split_example((ENV_DIR / "example.env").read_text())
    assert {name: make_env.parse_env(text) for name, text in example.items()} == PLACEHOLDER_ENV


def test_make_env_writes_private_files_and_keeps_existing_secrets(tmp_path):
    make_env.main(["--config-dir", str(CONFIG_DIR), "--out", str(tmp_path)])
    first = {p.name: p.read_text() for p in tmp_path.glob("*.env")}
    assert set(first) == set(PLACEHOLDER_ENV)
    for path in tmp_path.glob("*.env"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "change-me" not in "".join(first.values())
    node = make_env.parse_env(first["node-6371.env"])
    broker = make_env.parse_env(first["broker-6371.env"])
    database = make_env.parse_env(first["db-6371.env"])
    assert urlsplit(node["REHSOS_BROKER_URI"]).password == broker["BROKER_APP_PASSWORD"]
    assert node["PGPASSWORD"] == database["POSTGRES_PASSWORD"]
    boot = make_env.parse_env(first["bootstrap.env"])
    assert urlsplit(boot["REHSOS_NODE_6371__MANAGEMENT_URI"]).password == broker["BROKER_ADMIN_PASSWORD"]

    (tmp_path / "node-6371.env").unlink()
    make_env.main(["--config-dir", str(CONFIG_DIR), "--out", str(tmp_path)])
    second = {p.name: p.read_text() for p in tmp_path.glob("*.env")}
    assert second == first, "a rerun must keep every existing secret (and recreate the missing file from them)"


# -- configs with their environment --------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(n for n in by_image(REHSOS_IMAGE) if n != "bootstrap"))
def test_each_rehsos_container_loads_its_config_with_its_env_files(name):
    _, container_path = rehsos_command(name)
    path = host_path(container_path)
    assert path.is_file(), f"{name}: {path} missing"
    environ = service_environ(name)
    settings = config.load(path, environ=environ)
    cfg = raw_config(path.name)
    assert settings.node == str(cfg["node"])
    assert not settings.is_dev_secret
    # The env file's URI is the config's URI plus the password: same user, host, port, vhost.
    file_uri, env_uri = urlsplit(cfg["broker_uri"]), urlsplit(settings.broker_uri)
    assert env_uri.password and (env_uri.username, env_uri.hostname, env_uri.port, env_uri.path) == \
        (file_uri.username, file_uri.hostname, file_uri.port, file_uri.path)
    assert environ["PGPASSWORD"], "libpq reads the database password from PGPASSWORD"
    assert settings.database_uri == cfg["database_uri"] and "{service}" in settings.database_uri
    assert not settings.dev_mode
    if rehsos_command(name)[0] == "serve":
        settings.require_servable()
        # Without the province's env file a node refuses to start (no silent dev secret).
        if not settings.is_hub:
            with pytest.raises(config.ConfigError, match="person_key_secret"):
                config.load(path, environ={k: v for k, v in environ.items()
                                           if k != "REHSOS_PERSON_KEY_SECRET"}).require_servable()


def test_only_the_nodes_serving_containers_hold_the_person_key():
    holders = {name for name, svc in SERVICES.items()
               if any(Path(e).name == make_env.PROVINCE_FILE for e in svc.get("env_file", []))}
    assert holders == {app_service(key) for key in NODES}
    with pytest.raises(config.ConfigError, match="the hub must not hold"):
        config.load(CONFIG_DIR / "hub.yaml", environ={**service_environ("hub"), **PLACEHOLDER_ENV[make_env.PROVINCE_FILE]})


def test_config_mounts_and_referenced_files_exist():
    for name in SERVICES:
        for target, source in bind_mounts(name).items():
            assert (ROOT / source).exists(), f"{name}: {source} does not exist"
    for name in by_image(REHSOS_IMAGE):
        assert bind_mounts(name) == {CONFIG_MOUNT: "./deploy/config"}, name
        assert f"./deploy/config:{CONFIG_MOUNT}:ro" in SERVICES[name]["volumes"]


@pytest.mark.parametrize("key", list(offices()))
def test_database_container_creates_every_database_of_its_office(key):
    svc = SERVICES[f"db-{key}"]
    env = svc["environment"]
    created = {env["POSTGRES_DB"], *env["POSTGRES_EXTRA_DATABASES"].split()}
    settings = config.load(CONFIG_DIR / offices()[key], environ=service_environ(app_service(key)))
    wanted = {urlsplit(settings.auth_database_uri).path.lstrip("/")}
    for service in (s.name for s in registry.at(key if key == "hub" else "node")):
        uri = urlsplit(settings.database_uri_for(service))
        wanted.add(uri.path.lstrip("/"))
        assert uri.username == env["POSTGRES_USER"]
    assert created == wanted
    assert bind_mounts(f"db-{key}") == {
        "/docker-entrypoint-initdb.d/10-create-databases.sh": "./deploy/postgres/create-databases.sh"}
    assert f"-U {env['POSTGRES_USER']}" in " ".join(svc["healthcheck"]["test"])


# -- brokers ----------------------------------------------------------------------------------------------------
def _normalised(doc):
    """Definitions with their lists sorted: the order of --nodes does not matter to RabbitMQ."""
    if isinstance(doc, dict):
        return {k: _normalised(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return sorted((_normalised(v) for v in doc), key=lambda v: json.dumps(v, sort_keys=True))
    return doc


def test_definitions_are_what_rehsos_definitions_generates(tmp_path):
    written = devrun.write_definitions(str(tmp_path), ",".join(NODES))
    committed = sorted(p.name for p in RABBITMQ_DIR.glob("*.definitions.json"))
    assert committed == sorted(p.name for p in written)
    for path in written:
        assert _normalised(json.loads((RABBITMQ_DIR / path.name).read_text())) == \
            _normalised(json.loads(path.read_text())), (
            f"deploy/rabbitmq/{path.name} is stale: "
            f".venv/bin/rehsos definitions --out deploy/rabbitmq --nodes {','.join(NODES)}")


def test_definitions_hold_no_users_or_secrets():
    for path in RABBITMQ_DIR.glob("*.definitions.json"):
        doc = json.loads(path.read_text())
        assert not {"users", "permissions", "parameters"} & set(doc), path.name


@pytest.mark.parametrize("key", list(offices()))
def test_broker_mounts_its_own_topology_and_users_match_the_configs(key):
    name = f"broker-{key}"
    svc = SERVICES[name]
    kind = "hub" if key == "hub" else "node"
    definitions = "hub.definitions.json" if key == "hub" else f"node-{key}.definitions.json"
    assert bind_mounts(name) == {
        "/opt/rehsos/broker-entrypoint.sh": "./deploy/rabbitmq/broker-entrypoint.sh",
        "/etc/rabbitmq/rabbitmq.conf": f"./deploy/rabbitmq/{kind}.rabbitmq.conf",
        "/etc/rabbitmq/enabled_plugins": "./deploy/rabbitmq/enabled_plugins",
        "/etc/rehsos/definitions.json": f"./deploy/rabbitmq/{definitions}",
    }
    assert svc["entrypoint"] == ["/bin/sh", "/opt/rehsos/broker-entrypoint.sh"]
    assert svc["command"] == ["rabbitmq-server"]
    assert svc["hostname"] == name
    cfg = raw_config(offices()[key])
    env = service_environ(name)
    vhost = urlsplit(cfg["broker_uri"]).path.lstrip("/")
    assert env["BROKER_VHOST"] == vhost
    assert [v["name"] for v in json.loads((RABBITMQ_DIR / definitions).read_text())["vhosts"]] == [vhost]
    assert env["BROKER_APP_USER"] == urlsplit(cfg["broker_uri"]).username
    assert env["BROKER_ADMIN_USER"] == urlsplit(cfg["management_uri"]).username
    assert urlsplit(service_environ(app_service(key))["REHSOS_BROKER_URI"]).password == env["BROKER_APP_PASSWORD"]


def test_rabbitmq_conf_loads_the_definitions_and_plugins_are_enabled():
    for kind in ("hub", "node"):
        text = (RABBITMQ_DIR / f"{kind}.rabbitmq.conf").read_text()
        assert re.search(r"^load_definitions = /etc/rabbitmq/definitions\.json$", text, re.M)
        assert "guest" not in re.sub(r"#.*", "", text)
    plugins = (RABBITMQ_DIR / "enabled_plugins").read_text().strip()
    assert plugins == "[rabbitmq_management,rabbitmq_shovel,rabbitmq_shovel_management]."


def _run_broker_entrypoint(tmp_path, **env):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir(exist_ok=True)
    fake = fake_bin / "docker-entrypoint.sh"
    fake.write_text('#!/bin/sh\necho "started: $*"\n')
    fake.chmod(0o755)
    target = tmp_path / "definitions.json"
    base = {"PATH": f"{fake_bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "BROKER_TOPOLOGY_FILE": str(RABBITMQ_DIR / "node-6371.definitions.json"),
            "BROKER_DEFINITIONS_FILE": str(target)}
    result = subprocess.run(["sh", str(RABBITMQ_DIR / "broker-entrypoint.sh"), "rabbitmq-server"],
                            env={**base, **env}, capture_output=True, text=True, timeout=30)
    return result, target


BROKER_ENV = {"BROKER_ADMIN_USER": "rehsos-admin", "BROKER_ADMIN_PASSWORD": "Adm1n-pw_x.y~z",
              "BROKER_APP_USER": "rehsos", "BROKER_APP_PASSWORD": "app-pw-123", "BROKER_VHOST": "node-6371"}


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_broker_entrypoint_adds_the_users_to_the_topology(tmp_path):
    result, target = _run_broker_entrypoint(tmp_path, **BROKER_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started: rabbitmq-server"
    doc = json.loads(target.read_text())
    topology_doc = json.loads((RABBITMQ_DIR / "node-6371.definitions.json").read_text())
    assert {k: v for k, v in doc.items() if k not in ("users", "permissions")} == topology_doc
    assert doc["users"] == [
        {"name": "rehsos-admin", "password": "Adm1n-pw_x.y~z", "tags": "administrator"},
        {"name": "rehsos", "password": "app-pw-123", "tags": ""}]
    assert {(p["user"], p["vhost"]) for p in doc["permissions"]} == {("rehsos-admin", "node-6371"),
                                                                     ("rehsos", "node-6371")}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
@pytest.mark.parametrize("change", [{"BROKER_APP_PASSWORD": ""}, {"BROKER_ADMIN_PASSWORD": 'x", "tags": "administrator'},
                                    {"BROKER_APP_USER": "a b"}])
def test_broker_entrypoint_refuses_missing_or_unsafe_values(tmp_path, change):
    result, target = _run_broker_entrypoint(tmp_path, **{**BROKER_ENV, **change})
    assert result.returncode == 64
    assert "started" not in result.stdout and not target.exists()


def test_generated_passwords_pass_the_broker_entrypoint_check():
    allowed = re.compile(r"^[A-Za-z0-9._~-]+$")
    for filename, values in PLACEHOLDER_ENV.items():
        if filename.startswith("broker-"):
            assert all(allowed.match(v) for v in values.values())
    assert allowed.match(make_env.Secrets({}, placeholders=False).get("x", "y", "z"))


# -- the bootstrap job (see deploy/README.md, "Bootstrap with separate brokers") ----------------------------
def test_bootstrap_env_gives_every_config_its_own_secrets():
    """With per-config overrides, the bootstrap job's env yields every broker's admin and every hub link."""
    environ = service_environ("bootstrap")
    hub, nodes = load_configs_scoped(CONFIG_DIR, environ)
    assert [n.node for n in nodes] == sorted(NODES)
    assert urlsplit(hub.management_uri).password == PLACEHOLDER_ENV["broker-hub.env"]["BROKER_ADMIN_PASSWORD"]
    links = devrun.node_links(nodes)  # raises unless each hub link logs in as node-<code> with a password
    assert len({link.password for link in links}) == len(links)
    for settings in nodes:
        mgmt = urlsplit(settings.management_uri)
        assert mgmt.hostname == f"broker-{settings.node}"
        assert mgmt.password == PLACEHOLDER_ENV[f"broker-{settings.node}.env"]["BROKER_ADMIN_PASSWORD"]
    # The services' own containers never get the bootstrap's secrets.
    for name in by_image(REHSOS_IMAGE):
        if name != "bootstrap":
            assert not any(SCOPED.match(k) for k in service_environ(name)), name


def test_rehsos_bootstrap_reads_per_config_overrides(monkeypatch):
    """From the process environment, each config takes its own scoped URIs and no other config's."""
    environ = service_environ("bootstrap")
    for key in list(os.environ):
        if key.startswith("REHSOS_"):
            monkeypatch.delenv(key)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    hub, nodes = devrun.load_configs(CONFIG_DIR)
    assert hub.management_uri == environ["REHSOS_HUB__MANAGEMENT_URI"]
    assert hub.hub_broker_uri is None
    assert hub.broker_uri == raw_config("hub.yaml")["broker_uri"]
    assert [n.node for n in nodes] == sorted(NODES)
    for settings in nodes:
        scope = f"REHSOS_NODE_{settings.node}__"
        assert settings.management_uri == environ[scope + "MANAGEMENT_URI"]
        assert settings.hub_broker_uri == environ[scope + "HUB_BROKER_URI"]
        # The bootstrap job has no application passwords: broker_uri stays the file's.
        assert settings.broker_uri == raw_config(f"node-{settings.node}.yaml")["broker_uri"]
        assert urlsplit(settings.management_uri).password == \
            PLACEHOLDER_ENV[f"broker-{settings.node}.env"]["BROKER_ADMIN_PASSWORD"]
    links = devrun.node_links(nodes)
    assert [(link.node, link.password) for link in links] == [
        (n.node, urlsplit(environ[f"REHSOS_NODE_{n.node}__HUB_BROKER_URI"]).password) for n in nodes]
    assert len({link.password for link in links}) == len(links)


class RecordingManagement(mq.Management):
    """A management API that has nothing yet and records which broker each change goes to."""
    calls: list[tuple[str, str, tuple[str, ...], dict | None]] = []

    def request(self, method, *segments, body=None, ok=(200, 201, 204)):
        if method == "GET":
            if segments == ("overview",):
                return {"exchange_types": [{"name": "topic"}, {"name": "fanout"}]}
            if segments in (("shovels",), ("vhosts",)):
                return []
            raise RuntimeError(f"GET {'/'.join(segments)} -> 404: not found")
        RecordingManagement.calls.append((urlsplit(self.base).hostname, method, segments, body))
        return None


def test_rehsos_bootstrap_configures_each_broker_through_its_own_management_api(monkeypatch):
    environ = service_environ("bootstrap")
    for key in list(os.environ):
        if key.startswith("REHSOS_"):
            monkeypatch.delenv(key)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(mq, "Management", RecordingManagement)
    RecordingManagement.calls = []
    devrun.bootstrap_from_configs(CONFIG_DIR)
    # Brokers new to the province: each gets its own part in definitions imports.
    assert {(method, segments) for _, method, segments, _ in RecordingManagement.calls} == {("POST", ("definitions",))}
    held: dict[str, set[str]] = {}
    for host, _, _, body in RecordingManagement.calls:
        vhosts = held.setdefault(host, set())
        vhosts.update(v["name"] for v in body.get("vhosts", []))
        for kind in ("permissions", "exchanges", "queues", "bindings", "parameters"):
            vhosts.update(item["vhost"] for item in body.get(kind, []))
        if body.get("users"):
            assert host == "broker-hub", body["users"]
    assert held == {"broker-hub": {"hub"}, **{f"broker-{node}": {f"node-{node}"} for node in NODES}}


# -- the Compose Specification's schema (vendored, see README.md beside this file) -------------------------
COMPOSE_SCHEMA = json.loads((Path(__file__).with_name("compose-spec.json")).read_text())


def compose_errors(doc: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(COMPOSE_SCHEMA)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in validator.iter_errors(doc)]


def test_the_vendored_compose_schema_is_a_valid_schema():
    jsonschema.Draft202012Validator.check_schema(COMPOSE_SCHEMA)


def test_docker_compose_yml_follows_the_compose_specification():
    assert compose_errors(COMPOSE) == []


def _set(path: str, value):
    def change(doc):
        *parents, last = path.split("/")
        target = doc
        for part in parents:
            target = target[part]
        target[last] = value
    return change


@pytest.mark.parametrize("label, change", [
    ("ports not a list", _set("services/hub/ports", 5)),
    ("unknown depends_on condition", _set("services/hub/depends_on/broker-hub/condition", "service_ready")),
    ("unknown service key", _set("services/hub/restart_policy", "always")),
    ("nested environment value", _set("services/bootstrap/environment", {"REHSOS_HUB": {"uri": "x"}})),
])
def test_the_compose_schema_refuses_a_broken_file(label, change):
    broken = copy.deepcopy(COMPOSE)
    change(broken)
    assert compose_errors(broken), label


# -- docker compose itself, where the client has the plugin: it also interpolates, reads the env files
# and resolves references to networks, volumes and services, which the schema cannot -------------------------
def _compose_available() -> bool:
    docker = shutil.which("docker")
    if not docker:
        return False
    try:
        return subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not _compose_available(),
                    reason="`docker compose version` fails here: the docker client has no compose plugin "
                           "(and there is no engine); `docker compose config` cannot be run")
def test_docker_compose_config_accepts_the_file(tmp_path):
    shutil.copy(COMPOSE_FILE, tmp_path / "docker-compose.yml")
    shutil.copytree(DEPLOY, tmp_path / "deploy", ignore=shutil.ignore_patterns("*.env", "__pycache__"))
    shutil.copy(ENV_DIR / "example.env", tmp_path / "deploy" / "env" / "example.env")
    for filename, text in make_env.split_example((ENV_DIR / "example.env").read_text()).items():
        (tmp_path / "deploy" / "env" / filename).write_text(text)
    result = subprocess.run(["docker", "compose", "-f", "docker-compose.yml", "config", "-q"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


# -- the compose file is generated from the node list (`rehsos compose`) -------------------------------------
def test_docker_compose_yml_is_what_rehsos_compose_writes():
    from rehsos_tools import compose

    text = COMPOSE_FILE.read_text()
    spec = re.search(r"^# Generated by `rehsos compose --nodes (\S+)`", text, re.M).group(1)
    assert text == compose.render(spec), \
        "docker-compose.yml differs from `rehsos compose`: regenerate it, do not edit it by hand"
    # ... for exactly the offices that have a config file.
    assert {n for n in devrun.parse_nodes(spec)} == set(NODES)


def test_the_fourteen_office_compose_file_is_valid_and_complete():
    from rehsos import reference
    from rehsos_tools import compose

    doc = yaml.safe_load(compose.render("all"))
    assert compose_errors(doc) == []
    services = doc["services"]
    keys = ["hub", *reference.NODES]
    assert len(keys) == 15
    for key in keys:
        app = "hub" if key == "hub" else f"node-{key}"
        for name in (f"broker-{key}", f"db-{key}", f"migrate-{key}", app):
            assert name in services, name
        assert services[f"broker-{key}"]["hostname"] == f"broker-{key}"
        assert {f"broker-{key}-data", f"db-{key}-data"} <= set(doc["volumes"])
        assert app in doc["networks"] and set(services[app]["networks"]) == {app}
        assert f"./deploy/rabbitmq/{app}.definitions.json:/etc/rehsos/definitions.json:ro" in \
            services[f"broker-{key}"]["volumes"]
    assert set(services["bootstrap"]["depends_on"]) == {f"broker-{k}" for k in keys}
    published = [p for svc in services.values() for p in svc.get("ports", [])]
    assert len(published) == len(set(published)) == 15
    assert len(services) == 4 * 15 + 1


def test_the_committed_node_configs_are_what_rehsos_compose_writes():
    from rehsos_tools import compose

    for key in NODES:
        assert (CONFIG_DIR / f"node-{key}.yaml").read_text() == compose.node_config(key), \
            f"deploy/config/node-{key}.yaml differs from `rehsos compose`: regenerate it"


def test_rehsos_compose_writes_everything_the_fourteen_offices_need(tmp_path):
    from rehsos import reference
    from rehsos_tools import compose

    compose.write("all", tmp_path / "docker-compose.yml", tmp_path / "deploy")
    doc = yaml.safe_load((tmp_path / "docker-compose.yml").read_text())
    config_dir, rabbitmq_dir = tmp_path / "deploy" / "config", tmp_path / "deploy" / "rabbitmq"
    assert (config_dir / "hub.yaml").read_text() == (CONFIG_DIR / "hub.yaml").read_text()
    # Every office's secrets, from its config: broker users, database, the hub link of the shovels.
    env = make_env.render(config_dir)
    boot = env[make_env.BOOTSTRAP_FILE]
    hub_definitions = json.loads((rabbitmq_dir / "hub.definitions.json").read_text())
    hub_queues = {q["name"] for q in hub_definitions["queues"]}
    ports = set()
    for code in reference.NODES:
        app = f"node-{code}"
        settings = config.load(config_dir / f"{app}.yaml", environ={
            **env[f"{app}.env"], **env[make_env.PROVINCE_FILE]})
        settings.require_servable()
        assert settings.node == code and f"broker-{code}" in settings.broker_uri and f"db-{code}" in settings.database_uri
        assert doc["services"][app]["command"] == ["serve", "--config", f"/etc/rehsos/{app}.yaml"]
        port = raw_port(config_dir / f"{app}.yaml")
        ports.add(port)
        assert doc["services"][app]["ports"] == [f"{port}:{port}"]
        node_definitions = json.loads((rabbitmq_dir / f"{app}.definitions.json").read_text())
        assert [v["name"] for v in node_definitions["vhosts"]] == [app]
        assert f"downlink.{code}" in hub_queues, code  # what the hub sends the office: its downlink shovel
        assert urlsplit(boot[f"REHSOS_NODE_{code}__HUB_BROKER_URI"]).username == app
        assert {"BROKER_ADMIN_PASSWORD", "BROKER_APP_PASSWORD"} <= set(env[f"broker-{code}.env"])
    assert len(ports) == 14


def raw_port(path: Path) -> int:
    return int(yaml.safe_load(path.read_text())["http"]["port"])


def test_brokers_get_a_high_open_file_limit():
    for key in offices():
        limits = SERVICES[f"broker-{key}"]["ulimits"]["nofile"]
        assert limits["soft"] >= devrun.MIN_BROKER_FILES and limits["hard"] >= limits["soft"], key


# -- make compose-smoke's compose file (rehsos_tools/compose_smoke.py) ----------------------------------------
def test_the_smoke_compose_file_publishes_only_free_high_loopback_ports(tmp_path):
    from rehsos_tools import compose_smoke

    doc, ports = compose_smoke.smoke_compose("rehsos-smoke", tmp_path)
    assert doc["name"] == "rehsos-smoke" and compose_errors(doc) == []
    assert set(ports) == {app_service(key) for key in offices()}
    for name, svc in doc["services"].items():
        assert "healthcheck" not in svc and "build" not in svc, name
        for published in svc.get("ports", []):
            host, port, _ = published.split(":")
            assert host == "127.0.0.1" and int(port) not in compose_smoke.FORBIDDEN_PORTS, published
        for volume in svc.get("volumes", []):
            assert not volume.startswith("./"), volume  # absolute: the file lives in var/compose-smoke
        assert all(Path(e).parent == tmp_path for e in svc.get("env_file", [])), name
    assert {5672, 15672, 5432, 8000, 8100, 8171, 8199} <= compose_smoke.FORBIDDEN_PORTS
    # podman cannot raise a limit above its own hard limit: clamped here, with nproc beside it.
    engine = compose_smoke.engine_ulimits()
    hard = engine.get("nofile", {}).get("hard", resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    for key in offices():
        limits = doc["services"][f"broker-{key}"]["ulimits"]
        assert limits["nofile"]["soft"] == min(65536, hard), limits
        assert limits.get("nproc") == engine.get("nproc"), limits


def test_engine_ulimits_reads_containers_conf(tmp_path):
    from rehsos_tools import compose_smoke

    conf = tmp_path / "containers.conf"
    conf.write_text((DEPLOY / "images" / "containers.conf").read_text())
    assert compose_smoke.engine_ulimits(conf) == {"nofile": {"soft": 20000, "hard": 20000},
                                                  "nproc": {"soft": 20000, "hard": 20000}}
    assert compose_smoke.engine_ulimits(tmp_path / "missing.conf") == {}


def test_the_smoke_compose_file_of_generated_offices_mounts_their_configs_and_definitions(tmp_path):
    from rehsos_tools import compose, compose_smoke

    compose.write("all", tmp_path / "docker-compose.yml", tmp_path / "deploy")
    doc, ports = compose_smoke.smoke_compose("rehsos-smoke", tmp_path / "env", tmp_path / "docker-compose.yml")
    assert len(ports) == 15 and compose_errors(doc) == []
    assert f"{tmp_path}/deploy/config:{CONFIG_MOUNT}:ro" in doc["services"]["node-6372"]["volumes"]
    assert f"{tmp_path}/deploy/rabbitmq/node-6372.definitions.json:/etc/rehsos/definitions.json:ro" in \
        doc["services"]["broker-6372"]["volumes"]
    assert f"{ROOT}/deploy/rabbitmq/broker-entrypoint.sh:/opt/rehsos/broker-entrypoint.sh:ro" in \
        doc["services"]["broker-6372"]["volumes"]

#!/usr/bin/env python3
"""Write the secret env files of the containerised province (``deploy/env/*.env``).

  python3 deploy/make_env.py            # create missing files and values with random secrets
  python3 deploy/make_env.py --example  # print the placeholder version (deploy/env/example.env)

The files are derived from the config files in ``deploy/config`` (``hub.yaml``, ``node-*.yaml``),
so adding an office is: add its config file, run this again. Values already present in
``deploy/env`` are kept (a rerun never rotates a password); only missing ones are generated.
The same password often appears twice (the broker creates the user, the URI logs in with it):
generating both from one value keeps them consistent.

Needs Python 3.9+ and PyYAML (``.venv/bin/python deploy/make_env.py`` has both).
"""
from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import yaml

DEPLOY = Path(__file__).resolve().parent
PROVINCE_FILE = "province.env"
BOOTSTRAP_FILE = "bootstrap.env"


def service(office: str) -> str:
    """The compose service of an office's rehsos process: hub, node-6371, ..."""
    return "hub" if office == "hub" else f"node-{office}"


def office_files(office: str) -> tuple[str, str, str]:
    """(broker, database, rehsos) env files of an office: each container gets only its own secrets."""
    return f"broker-{office}.env", f"db-{office}.env", f"{service(office)}.env"


def scope(office: str) -> str:
    """Prefix of the bootstrap job's per-config overrides: REHSOS_HUB__..., REHSOS_NODE_6371__..."""
    return "REHSOS_HUB__" if office == "hub" else f"REHSOS_NODE_{office}__"


def read_configs(config_dir: Path) -> dict[str, dict]:
    configs = {"hub": yaml.safe_load((config_dir / "hub.yaml").read_text())}
    for path in sorted(config_dir.glob("node-*.yaml")):
        doc = yaml.safe_load(path.read_text())
        code = str(doc["node"])
        if path.stem != f"node-{code}":
            raise SystemExit(f"{path}: node is {code!r}, the file must be named node-{code}.yaml")
        configs[code] = doc
    return configs


def parse_env(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def with_password(uri: str, password: str) -> str:
    parts = urlsplit(uri)
    if not parts.username:
        raise SystemExit(f"{uri}: the config URI must name its user (the password comes from here)")
    netloc = f"{quote(parts.username, safe='')}:{quote(password, safe='')}@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class Secrets:
    """Existing values win; otherwise a random one (or a placeholder for example.env)."""

    def __init__(self, existing: dict[str, dict[str, str]], placeholders: bool):
        self.existing = existing
        self.placeholders = placeholders

    def get(self, filename: str, name: str, label: str, nbytes: int = 24) -> str:
        if self.placeholders:
            return f"change-me-{label}"
        current = self.existing.get(filename, {}).get(name)
        return current if current else secrets.token_urlsafe(nbytes)

    def password_in(self, filename: str, name: str, label: str) -> str:
        """A password stored only inside a URI (the node's hub link)."""
        if not self.placeholders:
            uri = self.existing.get(filename, {}).get(name)
            if uri and urlsplit(uri).password:
                return urlsplit(uri).password
        return self.get("", "", label)


def render(config_dir: Path, existing: dict[str, dict[str, str]] | None = None,
           placeholders: bool = False) -> dict[str, dict[str, str]]:
    """{file name: {variable: value}} for every env file of the province."""
    configs = read_configs(config_dir)
    s = Secrets(existing or {}, placeholders)
    files: dict[str, dict[str, str]] = {
        PROVINCE_FILE: {"REHSOS_PERSON_KEY_SECRET": s.get(PROVINCE_FILE, "REHSOS_PERSON_KEY_SECRET",
                                                          "provincial-person-key-secret", 48)},
    }
    admin_passwords = {}
    for office, cfg in configs.items():
        broker_file, db_file, app_file = office_files(office)
        admin = s.get(broker_file, "BROKER_ADMIN_PASSWORD", f"{office}-broker-admin")
        app = s.get(broker_file, "BROKER_APP_PASSWORD", f"{office}-broker-app")
        db = s.get(db_file, "POSTGRES_PASSWORD", f"{office}-db")
        admin_passwords[office] = admin
        files[broker_file] = {"BROKER_ADMIN_PASSWORD": admin, "BROKER_APP_PASSWORD": app}
        files[db_file] = {"POSTGRES_PASSWORD": db}
        files[app_file] = {"PGPASSWORD": db, "REHSOS_BROKER_URI": with_password(cfg["broker_uri"], app)}
    boot = {}
    for office, cfg in configs.items():
        boot[f"{scope(office)}MANAGEMENT_URI"] = with_password(cfg["management_uri"], admin_passwords[office])
        if office != "hub":
            var = f"{scope(office)}HUB_BROKER_URI"
            link = s.password_in(BOOTSTRAP_FILE, var, f"{office}-hub-link")
            boot[var] = with_password(cfg["hub_broker_uri"], link)
    files[BOOTSTRAP_FILE] = boot
    return files


HEADERS = {
    PROVINCE_FILE: "the node-<code> services only (the provincial key of the person hash; never the hub)",
    BOOTSTRAP_FILE: "the bootstrap job only: per-config overrides REHSOS_HUB__<KEY>, REHSOS_NODE_<code>__<KEY>",
}


def header(filename: str) -> str:
    if filename in HEADERS:
        return HEADERS[filename]
    stem = filename[:-len(".env")]
    if stem.startswith("broker-"):
        return (f"the {stem} container: its administrator (management API, bootstrap) and the user of "
                "the office's services")
    if stem.startswith("db-"):
        return f"the {stem} container (PostgreSQL superuser rehsos)"
    office = stem.partition("-")[2] or "hub"
    return f"{stem} and migrate-{office}: the database (libpq) and broker passwords of the services"


def dump(values: dict[str, str]) -> str:
    return "".join(f"{k}={v}\n" for k, v in values.items())


def example(config_dir: Path) -> str:
    lines = ["# The variables of the province's secret env files, with placeholder values.\n",
             "# Generated by `python3 deploy/make_env.py --example`: do not edit by hand.\n",
             "# The real files (random secrets, ignored by git) come from `python3 deploy/make_env.py`;\n",
             "# each section below is one file in deploy/env/.\n"]
    for filename, values in render(config_dir, placeholders=True).items():
        lines.append(f"\n### {filename}: {header(filename)}\n")
        lines.append(dump(values))
    return "".join(lines)


def split_example(text: str) -> dict[str, str]:
    """The sections of example.env as {file name: env file text} (tests use it)."""
    files: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines(keepends=True):
        if line.startswith("### "):
            current = line[4:].split(":", 1)[0].strip()
            files[current] = []
        elif current is not None:
            files[current].append(line)
    return {name: "".join(lines) for name, lines in files.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config-dir", type=Path, default=DEPLOY / "config")
    parser.add_argument("--out", type=Path, default=DEPLOY / "env")
    parser.add_argument("--example", action="store_true", help="print example.env (placeholders) and exit")
    args = parser.parse_args(argv)
    if args.example:
        sys.stdout.write(example(args.config_dir))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    existing = {p.name: parse_env(p.read_text()) for p in args.out.glob("*.env") if p.name != "example.env"}
    for filename, values in render(args.config_dir, existing).items():
        path = args.out / filename
        text = f"# {header(filename)}\n# Written by deploy/make_env.py; keep out of git.\n" + dump(values)
        if path.exists() and path.read_text() == text:
            continue
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

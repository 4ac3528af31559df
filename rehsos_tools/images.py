"""Container images of the province, built with podman on a machine without any registry.

  python -m rehsos_tools.images tools     # as root: podman, buildah, runc, mmdebstrap + containers.conf
  python -m rehsos_tools.images build     # wheelhouse, base images if needed, the service image

The service image (deploy/Dockerfile) installs the project from a wheelhouse built here with
``pip wheel``, so its build needs no network. Its base, and the broker and database images, are
the official ones when a pull succeeds within a short timeout; otherwise they are made locally
from Debian packages (deploy/images/<name>/recipe.toml, mmdebstrap + podman import).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "deploy" / "images"
WHEELHOUSE = ROOT / "var" / "wheelhouse"
SERVICE_IMAGE = "rehsos-kalsel:0.1.0"
CONTAINERS_CONF = Path("/etc/containers/containers.conf")
APT_PACKAGES = ["podman", "buildah", "runc", "mmdebstrap"]
PULL_TIMEOUT = 30


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, **kwargs)


def install_tools() -> None:
    """The container tools from Debian's packages, and a podman configuration that works here."""
    missing = [p for p in APT_PACKAGES if not shutil.which("mmdebstrap" if p == "mmdebstrap" else p)]
    if missing or not CONTAINERS_CONF.exists():
        if os.geteuid() != 0:
            sys.exit(f"images: run as root to install {' '.join(missing) or CONTAINERS_CONF}")
    if missing:
        run(["apt-get", "update", "-qq"])
        run(["apt-get", "install", "-y", "-qq", *missing], env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if not CONTAINERS_CONF.exists():
        CONTAINERS_CONF.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(RECIPES / "containers.conf", CONTAINERS_CONF)
        print(f"wrote {CONTAINERS_CONF}")


def build_wheelhouse(python: str = sys.executable) -> None:
    """The project and every dependency as wheels, for an offline `pip install --no-index`."""
    for old in WHEELHOUSE.glob("rehsos_kalsel-*.whl"):
        old.unlink()  # the same version number would otherwise keep yesterday's code
    run([python, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(WHEELHOUSE), str(ROOT)])


def image_exists(ref: str) -> bool:
    return subprocess.run(["podman", "image", "exists", ref]).returncode == 0


def try_pull(ref: str, timeout: int = PULL_TIMEOUT) -> bool:
    """A pull that gives up quickly: where no registry answers, we build locally instead."""
    if image_exists(ref):
        return True
    try:
        return subprocess.run(["podman", "pull", "-q", ref], timeout=timeout,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def apt_sources() -> list[str]:
    """The host's own apt sources, so the base images come from the mirror this machine uses."""
    files = [Path("/etc/apt/sources.list")] + sorted(Path("/etc/apt/sources.list.d").glob("*.sources")) \
        + sorted(Path("/etc/apt/sources.list.d").glob("*.list"))
    debian = [str(f) for f in files if f.exists() and "debian" in f.read_text()]
    if not debian:
        sys.exit("images: no Debian apt source on this machine for mmdebstrap")
    return debian


def build_base(name: str) -> str:
    """Debian bookworm with the recipe's packages, imported as the recipe's tag."""
    recipe = tomllib.loads((RECIPES / name / "recipe.toml").read_text())
    rootfs = RECIPES / name / "rootfs"
    with tempfile.TemporaryDirectory(prefix=f"rehsos-{name}-") as tmp:
        tarball = Path(tmp) / f"{name}.tar"
        cmd = ["mmdebstrap", "--variant=minbase", "--quiet", "--include=" + ",".join(recipe["packages"]),
               # Documentation and man pages only make the image larger.
               "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*",
               "--dpkgopt=path-include=/usr/share/doc/*/copyright",
               "--customize-hook=rm -rf \"$1\"/var/lib/apt/lists/* \"$1\"/var/cache/apt/*"]
        if rootfs.is_dir():
            cmd.append(f"--customize-hook=sync-in {rootfs} /")
        run(cmd + ["bookworm", str(tarball)] + apt_sources())
        changes = [arg for change in recipe["changes"] for arg in ("--change", change)]
        run(["podman", "import", "--quiet", *changes, str(tarball), recipe["tag"]], stdout=subprocess.DEVNULL)
    return recipe["tag"]


def base_image(name: str, local: bool = False) -> str:
    """The official image if it can be pulled (and ``local`` is not forced), else the local one."""
    recipe = tomllib.loads((RECIPES / name / "recipe.toml").read_text())
    if not local and try_pull(recipe["official"]):
        print(f"{name}: using {recipe['official']}")
        return recipe["official"]
    if image_exists(recipe["tag"]):
        print(f"{name}: using the local {recipe['tag']} (remove it to rebuild)")
        return recipe["tag"]
    print(f"{name}: {recipe['official']} cannot be pulled: building {recipe['tag']} from Debian packages")
    return build_base(name)


def build_service(base: str) -> None:
    # --no-cache: the install reads the wheelhouse through a bind mount, whose contents the layer
    # cache does not see; a cached layer would keep the previous wheels (the build takes seconds).
    run(["podman", "build", "--quiet", "--pull=never", "--no-cache", "--build-arg", f"BASE={base}", "-f",
         str(ROOT / "deploy" / "Dockerfile"), "-t", SERVICE_IMAGE, str(ROOT)], stdout=subprocess.DEVNULL)


def build(local: bool = False) -> dict[str, float]:
    """Everything `make images` promises; returns the seconds each step took."""
    took = {}
    start = time.monotonic()
    build_wheelhouse()
    took["wheelhouse"] = time.monotonic() - start
    bases = {}
    for name in ("python", "rabbitmq", "postgres"):
        start = time.monotonic()
        bases[name] = base_image(name, local)
        took[name] = time.monotonic() - start
    start = time.monotonic()
    build_service(bases["python"])
    took["service"] = time.monotonic() - start
    return took


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("tools", help="install podman & co. and /etc/containers/containers.conf (root)")
    p = sub.add_parser("build", help="wheelhouse, base images where needed, the service image")
    p.add_argument("--local", action="store_true", help="build the base images locally even if a pull would work")
    args = parser.parse_args(argv)
    if args.cmd == "tools":
        install_tools()
        return 0
    took = build(args.local)
    print("images built in " + ", ".join(f"{k} {v:.0f} s" for k, v in took.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

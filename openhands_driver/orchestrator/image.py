"""The worker image: an OpenHands agent server, the target service and targetctl, built offline.

``build_worker_image()`` builds ``deploy/worker/Dockerfile`` on demand, tagged
``sre-worker:src-<source hash>`` (rebuilt only when what it is made of changes, like the target image).
Nothing is pulled or downloaded during the build: the context is assembled on this host.

Why the host's interpreter is copied: the local base (``sre-target-base:bookworm``, debootstrap, no
registry) has Debian's Python 3.11, and ``openhands-agent-server`` needs 3.12. This process's own
CPython 3.12 (the one uv uses; built for this Debian) goes into the image, and
``openhands-agent-server`` plus its dependencies, pinned by ``uv.lock``, are installed into its
``site-packages`` with ``uv pip install --target`` from uv's cache (``--offline`` first; PyPI only
when the cache lacks a wheel). The alternatives were worse here: ``pip install`` inside the build
needs a 3.12 in the base anyway, and copying the project's whole virtualenv ships ~550 MB of packages
the worker never imports (optimizer, reports, docker SDK).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from openhands_driver.errors import UserError
from openhands_driver.paths import REPO_ROOT, TARGET_SERVICE_DIR

WORKER_DOCKERFILE = REPO_ROOT / "deploy" / "worker" / "Dockerfile"
IMAGE_REPOSITORY = "sre-worker"
AGENT_SERVER_PACKAGE = "openhands-agent-server"
LABEL_SOURCE = "org.openhands-gepa-sre.worker-source-hash"
TARGETCTL_FILES = (REPO_ROOT / "bin" / "targetctl", REPO_ROOT / "openhands_driver" / "targetctl.py",
                   REPO_ROOT / "openhands_driver" / "targetctl_docker.py")
# Parts of the interpreter's prefix the worker never uses (tests alone are ~130 MB).
_PYTHON_IGNORE = shutil.ignore_patterns("test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip",
                                        "lib2to3", "__pycache__", "*.a", "site-packages", "include",
                                        "share", "*.pyc")
_BUILD_LOCK = threading.Lock()


def _service_files() -> list[Path]:
    return sorted(p for p in TARGET_SERVICE_DIR.iterdir()
                  if p.is_file() and (p.suffix in (".py", ".sh")))


def source_hash(base_image_id: str | None = None) -> str:
    """sha256 over everything the image is made of: Dockerfile, target service, targetctl, uv.lock,
    the interpreter's version and the base image's id."""
    digest = hashlib.sha256()
    for path in [WORKER_DOCKERFILE, REPO_ROOT / "uv.lock", *TARGETCTL_FILES, *_service_files()]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(sys.version.encode() + b"\0" + (base_image_id or "").encode())
    return digest.hexdigest()[:12]


def _run(argv: list[str], what: str, cwd: Path = REPO_ROOT) -> str:
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=900)
    except FileNotFoundError:
        raise UserError(f"{what}: {argv[0]} not found; the worker image is built with uv "
                        "(https://docs.astral.sh/uv/), as the project's environment is") from None
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}): {' '.join(argv)}\n"
                           f"{(proc.stderr or proc.stdout)[-2000:]}")
    return proc.stdout


def assemble_context(directory: Path) -> Path:
    """Fill ``directory`` with the build context (see deploy/worker/Dockerfile); returns it."""
    if sys.version_info[:2] < (3, 12):
        raise UserError(f"the worker image needs CPython >= 3.12 for the agent server; this is "
                        f"{sys.version.split()[0]} ({sys.executable})")
    shutil.copy2(WORKER_DOCKERFILE, directory / "Dockerfile")
    python = directory / "python"
    shutil.copytree(sys.base_prefix, python, ignore=_PYTHON_IGNORE, symlinks=True)
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    site = python / "lib" / version / "site-packages"
    constraints = directory.parent / "constraints.txt"
    constraints.write_text(_run(["uv", "export", "--locked", "--extra", "remote", "--no-hashes",
                                 "--no-emit-project", "--no-header", "--format", "requirements-txt"],
                                "uv export (the locked versions)"), encoding="utf-8")
    install = ["uv", "pip", "install", "--quiet", "--python", sys.executable, "--target", str(site),
               "--constraint", str(constraints), AGENT_SERVER_PACKAGE]
    try:
        _run([*install, "--offline"], "uv pip install --offline (from uv's cache)")
    except RuntimeError:  # a wheel missing from the cache: PyPI, with the same pins
        _run(install, f"uv pip install {AGENT_SERVER_PACKAGE}")
    app = directory / "app"
    app.mkdir()
    for path in _service_files():
        shutil.copy2(path, app / path.name)
    (directory / "sre" / "bin").mkdir(parents=True)
    (directory / "sre" / "openhands_driver").mkdir()
    for path in TARGETCTL_FILES:
        shutil.copy2(path, directory / "sre" / path.parent.name / path.name)
    return directory


def image_tag(client, base_image: str) -> str:
    return f"{IMAGE_REPOSITORY}:src-{source_hash(_image_id(client, base_image))}"


def _image_id(client, name: str) -> str:
    from docker.errors import ImageNotFound

    try:
        return client.images.get(name).id
    except ImageNotFound:
        raise UserError(f"base image {name} not found; build the local base (no registry needed): "
                        f'eval "$(scripts/docker_engine.sh base-image)"') from None


def build_worker_image(client=None, *, base_image: str | None = None, force: bool = False) -> dict[str, Any]:
    """The worker image's tag, built when missing (or forced). Returns {tag, id, built, duration_s}."""
    from docker.errors import BuildError, ImageNotFound

    from openhands_driver.target.docker_engine import LOCAL_BASE_IMAGE, connect, default_base_image

    client = client or connect()
    base = base_image or default_base_image(client) or LOCAL_BASE_IMAGE
    with _BUILD_LOCK:
        tag = image_tag(client, base)
        if not force:
            try:
                return {"tag": tag, "id": client.images.get(tag).id, "built": False, "duration_s": 0.0}
            except ImageNotFound:
                pass
        began = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="sre-worker-image-") as tmp:
            context = Path(tmp) / "context"
            context.mkdir()
            assemble_context(context)
            try:
                image, _ = client.images.build(path=str(context), tag=tag, rm=True, forcerm=True, pull=False,
                                               buildargs={"BASE_IMAGE": base},
                                               labels={LABEL_SOURCE: tag.rsplit("-", 1)[-1]})
            except BuildError as exc:
                tail = "".join(str(line.get("stream") or line.get("error") or "")
                               for line in list(exc.build_log)[-10:])
                raise RuntimeError(f"building the worker image {tag} (BASE_IMAGE {base}) failed: "
                                   f"{exc.msg}\n{tail}") from None
        return {"tag": tag, "id": image.id, "built": True, "base_image": base,
                "duration_s": round(time.monotonic() - began, 3)}

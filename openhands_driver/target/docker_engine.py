"""Docker backend, engine side: the engine connection, the target image, networking, our labels.

Everything here works on the engine (docker SDK), not on one incident's container: `connect` (a
client that has answered a ping, or a user-fixable DockerUnavailableError), `build_image` (the
target image from target_service/, on $TARGET_BASE_IMAGE or a local base when present),
`network_mode` / `run_options` (bridge with a published 127.0.0.1 port, or host networking), and
`managed_containers` / `remove_run_containers` (by label only). DockerTarget (docker.py) uses them.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import docker
from docker.errors import APIError, BuildError, DockerException, ImageNotFound, NotFound

from openhands_driver import targetctl
from openhands_driver.errors import UserError
from openhands_driver.paths import TARGET_SERVICE_DIR
from openhands_driver.target.base import TargetError

IMAGE_TAG = "openhands-gepa-sre-target:latest"
LOCAL_BASE_IMAGE = "sre-target-base:bookworm"  # what `scripts/docker_engine.sh base-image` builds
DOCKERFILE_BASE_IMAGE = "python:3.12-slim"     # the Dockerfile's default BASE_IMAGE
CONTAINER_PORT = 8080
LABEL_PREFIX = "openhands-gepa-sre"
LABEL_MANAGED = f"{LABEL_PREFIX}.managed"
LABEL_RUN_ID = f"{LABEL_PREFIX}.run_id"
LABEL_SCENARIO = f"{LABEL_PREFIX}.scenario"
LABEL_OWNER = f"{LABEL_PREFIX}.owner"  # ownership.token() of the run's process (janitor.py)
ENV_NETWORK = "SRE_DOCKER_NETWORK"       # "host" | "bridge"; unset = ask the engine
ENV_BASE_IMAGE = "TARGET_BASE_IMAGE"     # BASE_IMAGE build argument
ENGINE_HINT = 'make one reachable with: eval "$(scripts/docker_engine.sh up)"'
CLIENT_TIMEOUT_S = 300


class DockerUnavailableError(TargetError, UserError):
    """No Docker engine answers: a user-fixable problem (exit 2, no traceback). ``str()`` is the one
    line to print (problem + fix); ``problem`` alone is for skip reasons."""

    def __init__(self, message: str, problem: str):
        super().__init__(message, problem)
        self.message, self.problem = message, problem

    def __str__(self) -> str:
        return self.message


def _why(exc: Exception) -> str:
    """The engine connection failure in a few words (docker-py nests the cause in its message)."""
    text = str(exc)
    for needle, meaning in (("FileNotFoundError", "no socket there"), ("No such file", "no socket there"),
                            ("PermissionError", "permission denied on the socket"),
                            ("Permission denied", "permission denied on the socket"),
                            ("Connection refused", "connection refused"), ("timed out", "timed out")):
        if needle in text:
            return meaning
    return text.splitlines()[-1][:200] if text else type(exc).__name__


# --- engine, image, networking -------------------------------------------------------------

def docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or targetctl.DEFAULT_DOCKER_HOST


def connect(timeout: int = CLIENT_TIMEOUT_S) -> docker.DockerClient:
    """A client for the engine at DOCKER_HOST that has answered a ping."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except DockerException as exc:
        problem = f"no Docker engine answers at DOCKER_HOST={docker_host()} ({_why(exc)})"
        raise DockerUnavailableError(f"{problem}; {ENGINE_HINT}", problem) from None
    return client


def engine_problem() -> str | None:
    """None when an engine answers, else what failed (for skip reasons and prerequisite checks)."""
    try:
        connect(timeout=10).close()
    except DockerUnavailableError as exc:
        return exc.problem
    return None


def default_base_image(client: docker.DockerClient) -> str | None:
    """BASE_IMAGE for builds: $TARGET_BASE_IMAGE, else the local base if present, else the
    Dockerfile's default (None)."""
    if os.environ.get(ENV_BASE_IMAGE):
        return os.environ[ENV_BASE_IMAGE]
    try:
        client.images.get(LOCAL_BASE_IMAGE)
        return LOCAL_BASE_IMAGE
    except ImageNotFound:
        return None


LABEL_SOURCE = "org.openhands-gepa-sre.source-hash"
_BUILD_LOCK = threading.Lock()


def source_hash() -> str:
    """sha256 of what the image is built from (target_service/: code, start.sh, Dockerfile)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(TARGET_SERVICE_DIR.iterdir()):
        if path.is_file() and (path.suffix in (".py", ".sh") or path.name == "Dockerfile"):
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build_image(client: docker.DockerClient | None = None, tag: str = IMAGE_TAG, *,
                base_image: str | None = None, force: bool = False) -> dict[str, Any]:
    """Build target_service/ as `tag` when missing, or built from other sources than these
    (a source-hash label), or when forced. Returns what happened."""
    client = client or connect()
    wanted = source_hash()
    with _BUILD_LOCK:  # concurrent incidents of one fan-out build it once
        return _build_locked(client, tag, wanted, base_image, force)


def _build_locked(client: docker.DockerClient, tag: str, wanted: str, base_image: str | None,
                  force: bool) -> dict[str, Any]:
    if not force:
        try:
            image = client.images.get(tag)
            if (image.labels or {}).get(LABEL_SOURCE) == wanted:
                return {"tag": tag, "id": image.id, "built": False, "base_image": None,
                        "duration_s": 0.0}
        except ImageNotFound:
            pass
    base = base_image or default_base_image(client)
    began = time.monotonic()
    try:
        image, _ = client.images.build(path=str(TARGET_SERVICE_DIR), tag=tag, rm=True, forcerm=True,
                                       pull=False, buildargs={"BASE_IMAGE": base} if base else None,
                                       labels={LABEL_SOURCE: wanted})
    except BuildError as exc:
        tail = "".join(str(line.get("stream") or line.get("error") or "")
                       for line in list(exc.build_log)[-8:])
        raise TargetError(
            f"building {tag} from {TARGET_SERVICE_DIR} failed (BASE_IMAGE "
            f"{base or DOCKERFILE_BASE_IMAGE}): {exc.msg}\n{tail}\nIf the base image cannot be "
            f'pulled, build a local one: eval "$(scripts/docker_engine.sh base-image)"') from None
    except APIError as exc:
        raise TargetError(f"building {tag} from {TARGET_SERVICE_DIR} failed: {exc}") from None
    return {"tag": tag, "id": image.id, "built": True, "base_image": base or DOCKERFILE_BASE_IMAGE,
            "duration_s": round(time.monotonic() - began, 3)}


def network_mode(client: docker.DockerClient) -> str:
    """"host" or "bridge": $SRE_DOCKER_NETWORK, else bridge when the engine has that network."""
    chosen = os.environ.get(ENV_NETWORK, "").strip()
    if chosen:
        if chosen not in ("host", "bridge"):
            raise UserError(f"{ENV_NETWORK}={chosen!r} is not supported; use host or bridge")
        return chosen
    try:
        client.networks.get("bridge")
        return "bridge"
    except NotFound:
        return "host"


def run_options(network: str, host_port: int) -> tuple[dict[str, Any], dict[str, str], int]:
    """(containers.run kwargs, extra env, port the app listens on inside) for a network mode."""
    if network == "host":  # the app shares the host's ports: listen on the free one, loopback only
        return {"network_mode": "host"}, {"LISTEN_HOST": "127.0.0.1"}, host_port
    return ({"ports": {f"{CONTAINER_PORT}/tcp": ("127.0.0.1", host_port)}},
            {"LISTEN_HOST": "0.0.0.0"}, CONTAINER_PORT)


def managed_containers(run_id: str | None = None, client: docker.DockerClient | None = None) -> list:
    """Containers carrying our labels (all of ours, or one run's)."""
    client = client or connect()
    labels = [f"{LABEL_MANAGED}=true"] + ([f"{LABEL_RUN_ID}={run_id}"] if run_id else [])
    return client.containers.list(all=True, filters={"label": labels})


def remove_run_containers(run_id: str, client: docker.DockerClient | None = None) -> list[str]:
    """Force-remove the containers labelled as ours for `run_id`; return their names.

    Used after interrupted or failed runs. Containers without our labels are never touched.
    """
    if not run_id:
        raise ValueError("remove_run_containers needs a run id (it never removes all containers)")
    removed = []
    for container in managed_containers(run_id, client):
        try:
            container.remove(force=True, v=True)
        except NotFound:
            continue
        removed.append(container.name)
    return removed


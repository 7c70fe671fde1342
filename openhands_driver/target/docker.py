"""Docker backend: the target service in a container, driven with the docker SDK.

One incident = one container of the target image (target_service/Dockerfile), started with
SCENARIO/FAULT/PORT (+ FAULT_PARAMS, the incident's fault details as JSON) and `--init`, labelled
with the run id and scenario so cleanup finds exactly ours. start() returns once the app runs or,
for a fault that keeps the app down (scaled to zero, bad release, ...), once the supervisor has
recorded why it will not run it: the same waits as the local backend, run inside the container.
The service root is "/" inside the container; the agent's `targetctl` reaches it through the
Engine API (TARGETCTL_CONTAINER + DOCKER_HOST), so skills are the same as on the local backend.

Networking: an engine with a "bridge" network gets the container port 8080 published on a free
127.0.0.1 port; an engine without one (scripts/docker_engine.sh's private daemon, which prints
SRE_DOCKER_NETWORK=host) gets host networking, and the app itself listens on a free host port.

Attach mode (`container=NAME`, optional `url=`) drives a container somebody else started and
never removes it. The engine side (connection, image build, networking, labels, and
`remove_run_containers(run_id)`, which removes the leftovers of one run by label only) lives in
docker_engine.py; its names are importable from here too.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any, Mapping

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from openhands_driver import targetctl
from openhands_driver.errors import UserError
from openhands_driver.target.base import CommandResult, Target, TargetError, url_port, validate_argv
# The engine side; every name stays importable from this module (re-exported).
from openhands_driver.target.docker_engine import (  # noqa: F401
    CLIENT_TIMEOUT_S, CONTAINER_PORT, DOCKERFILE_BASE_IMAGE, ENGINE_HINT, ENV_BASE_IMAGE, ENV_NETWORK,
    IMAGE_TAG, LABEL_MANAGED, LABEL_PREFIX, LABEL_RUN_ID, LABEL_SCENARIO, LOCAL_BASE_IMAGE,
    DockerUnavailableError, build_image, connect, default_base_image, docker_host, engine_problem,
    managed_containers, network_mode, remove_run_containers, run_options,
)
from openhands_driver.target.local import free_ports
from target_service import faults

# Runs targetctl's own wait inside the container (see targetctl.in_container_argv): argv is the
# targetctl source, "app" (wait_for_app: a live app pid) or "supervisor" (wait_for_supervisor: its
# first start decision, for faults that keep the app down), and the timeout in seconds.
PROVISION_FILE = "provision.json"  # /run/provision.json, read and removed by start.sh


def _tar_file(name: str, text: str) -> bytes:
    """A tar archive holding one file (what put_archive takes)."""
    import io
    import tarfile

    data = text.encode("utf-8")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), 0o600
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


WAIT_BOOT = ("import sys, json; ns = {'__name__': 'targetctl_in_container'}; "
             "exec(compile(sys.argv[1], 'targetctl.py', 'exec'), ns); root = ns['Path']('/'); "
             "found = (ns['wait_for_supervisor'](root, float(sys.argv[3])) if sys.argv[2] == 'supervisor' "
             "else ns['wait_for_app'](root, None, float(sys.argv[3]))); "
             "print(json.dumps(found)); sys.exit(0 if found else 1)")


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", text).strip("-.")[:48] or "run"


# --- the target ----------------------------------------------------------------------------

class DockerTarget(Target):
    backend = "docker"

    def __init__(self, *, scenario_id: str, fault: str | None, port: int | None = None,
                 root: Path | str | None = None, run_id: str | None = None, image: str | None = None,
                 container: str | None = None, url: str | None = None, build: bool = True,
                 start_timeout_s: float = 15.0, client: docker.DockerClient | None = None,
                 fault_params: Mapping[str, Any] | None = None,
                 injections: list[Mapping[str, Any]] | None = None) -> None:
        # several injections applied together ([{fault, params}]): `fault` is the first one's
        injections = faults.fault_specs(injections) if injections else None
        if injections:
            fault, fault_params = injections[0]["fault"], injections[0]["params"]
        if fault is not None and fault not in faults.FAULTS:
            raise ValueError(f"unknown fault {fault!r}; valid faults: {', '.join(faults.fault_names())}")
        if fault_params is not None and not isinstance(fault_params, Mapping):
            raise ValueError(f"fault_params must be a mapping (a JSON object), got {fault_params!r}")
        if root not in (None, "/", Path("/")):
            raise ValueError(f"the docker backend's service root is '/' inside the container, not {root}")
        self._attach = container is not None
        if url is not None and not self._attach:
            raise ValueError("url= is only for attaching to an existing container (container=NAME)")
        if url is not None:
            port = url_port(url)
        super().__init__(scenario_id=scenario_id, fault=fault,
                         port=port if port is not None else (0 if self._attach else free_ports(1)[0]))
        self._url = url
        self._fault_params = dict(fault_params or {})  # ignored when attaching (already injected)
        self._injections = injections
        self._run_id = run_id or f"target-{uuid.uuid4().hex[:8]}"
        self._image = image or IMAGE_TAG
        self._build = build
        self._start_timeout_s = start_timeout_s
        self._client = client
        self._name = container or f"sre-target-{_slug(self._run_id)}-{uuid.uuid4().hex[:6]}"
        self._container_id: str | None = None
        self._expected_image_id: str | None = None
        self._network: str | None = None
        self._inner_port = CONTAINER_PORT
        self._create_attempted = False
        self._create_returned = False
        self._started = False
        self._cleaned = False
        self.startup_s: float | None = None

    # --- identity ------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        return Path("/")

    @property
    def url(self) -> str:
        return self._url or super().url

    @property
    def container_name(self) -> str:
        return self._name

    @property
    def owned(self) -> bool:
        """True when this target created its container (and so may remove it)."""
        return not self._attach

    @property
    def inner_port(self) -> int:
        """Port the app must listen on inside the container (TARGETCTL_EXPECTED_PORT)."""
        return self._inner_port

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = connect()
        return self._client

    def labels(self) -> dict[str, str]:
        from openhands_driver import ownership
        from openhands_driver.target.docker_engine import LABEL_OWNER

        return {LABEL_MANAGED: "true", LABEL_RUN_ID: self._run_id, LABEL_SCENARIO: self.scenario_id,
                LABEL_OWNER: ownership.token(ownership.current())}

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self._cleaned:
            raise TargetError(f"{self!r} was cleaned up; create a new target")
        if self._started:
            return
        if self._attach:
            self._attach_existing()
            self._started = True
            return
        image = self._ensure_image()
        self._network = network_mode(self.client)
        run_kw, extra_env, self._inner_port = run_options(self._network, self.port)
        env = {"PORT": str(self._inner_port), **extra_env}
        # What to inject travels in a file start.sh reads once and deletes, never in the
        # container's environment (every `docker exec`, so the agent's `targetctl exec env`, sees that).
        provision = {"instance": self.scenario_id, "fault": self.fault or faults.HEALTHY,
                     "params": self._fault_params}
        if self._injections:
            provision["faults"] = self._injections
        began = time.monotonic()
        self._create_attempted = True  # from here on cleanup() removes the container by name
        try:
            container = self.client.containers.create(self._image, name=self._name,
                                                      init=True, labels=self.labels(),
                                                      environment=env, **run_kw)
            container.put_archive("/run", _tar_file(PROVISION_FILE, json.dumps(provision)))
            container.start()
        except APIError as exc:
            raise TargetError(f"could not start container {self._name} from {self._image}: "
                              f"{exc.explanation or exc}") from None
        self._create_returned = True
        self._container_id = container.id
        self._expected_image_id = image.id
        self._started = True
        # No app pid will appear for a fault that keeps the app down: wait for the decision.
        waited_for = "supervisor" if any(faults.keeps_app_down(n) for n in self.fault_names) else "app"
        code, out, err = self._exec_raw(["python3", "-c", WAIT_BOOT,
                                         Path(targetctl.__file__).read_text(encoding="utf-8"),
                                         waited_for, str(self._start_timeout_s)],
                                        self._start_timeout_s + 10)
        if code != 0:
            state = self.status()
            what = ("the supervisor did not record a start decision" if waited_for == "supervisor"
                    else "the app did not start")
            raise TargetError(
                f"target service did not come up in container {self._name} within "
                f"{self._start_timeout_s:.0f}s ({what}; container {state.get('state')}, image "
                f"{self._image}, env {env}).\n{err.strip()}\nLast log lines:\n{self.logs(20)}")
        self.startup_s = round(time.monotonic() - began, 3)

    def _ensure_image(self):
        if self._build and self._image == IMAGE_TAG:  # ours: (re)built when its sources changed
            build_image(self.client, self._image)
            return self.client.images.get(self._image)
        try:
            return self.client.images.get(self._image)
        except ImageNotFound:
            raise TargetError(f"image {self._image} not found in the engine at {docker_host()}; "
                              f"build it: docker build -t {self._image} target_service") from None

    def _attach_existing(self) -> None:
        try:
            container = self.client.containers.get(self._name)
        except NotFound:
            raise UserError(f"--target-container {self._name}: no such container at "
                            f"DOCKER_HOST={docker_host()}") from None
        if not container.attrs["State"]["Running"]:
            raise UserError(f"--target-container {self._name} is not running "
                            f"(state {container.status}); start it with: docker start {self._name}")
        self._container_id = container.id
        env = dict(item.partition("=")[::2] for item in container.attrs["Config"].get("Env") or [])
        self._inner_port = int(env.get("PORT") or CONTAINER_PORT)
        host_config = container.attrs.get("HostConfig") or {}
        self._network = "host" if host_config.get("NetworkMode") == "host" else "bridge"
        if self._url is None:  # derive the probe URL from the container's own configuration
            if self._network == "host":
                self._port = self._inner_port
            else:
                bound = ((container.attrs.get("NetworkSettings") or {}).get("Ports") or {}).get(
                    f"{self._inner_port}/tcp") or []
                if not bound:
                    raise UserError(f"--target-container {self._name} publishes no port for "
                                    f"{self._inner_port}/tcp; pass --target-url")
                self._port = int(bound[0]["HostPort"])

    def restart(self, timeout_s: float = 10.0) -> None:
        self._require_started("restart")
        code, out, err = self._exec_raw(
            targetctl.in_container_argv(["restart", "--timeout", f"{timeout_s:g}"]), timeout_s + 15,
            env=targetctl.in_container_env("/", str(self._inner_port)))
        if code != 0:
            raise TargetError(f"restart in container {self._name} failed (exit {code}): "
                              f"{(err or out).strip()}")

    def exec(self, argv: list[str], timeout_s: float = 30.0) -> CommandResult:
        argv = validate_argv(argv)
        self._require_started("exec")
        began = time.monotonic()
        code, out, err = self._exec_raw(["timeout", "-k", "2", f"{timeout_s:g}", *argv], timeout_s + 10)
        return CommandResult(argv, code, out, err, time.monotonic() - began, timed_out=code == 124)

    def _exec_raw(self, argv: list[str], timeout_s: float,
                  env: dict[str, str] | None = None) -> tuple[int, str, str]:
        """Run argv in the container's "/" through the SDK; (exit code, stdout, stderr)."""
        api = self.client.api
        try:
            exec_id = api.exec_create(self._container_id or self._name, argv, workdir="/",
                                      environment=env)["Id"]
            out, err = api.exec_start(exec_id, demux=True)
            code = api.exec_inspect(exec_id).get("ExitCode")
            deadline = time.monotonic() + min(timeout_s, 5.0)
            while code is None and time.monotonic() < deadline:
                time.sleep(0.02)
                code = api.exec_inspect(exec_id).get("ExitCode")
        except NotFound:
            raise TargetError(f"container {self._name} no longer exists") from None
        except APIError as exc:
            if exc.status_code == 409:
                raise TargetError(f"container {self._name} is not running; last log lines:\n"
                                  f"{self._container_logs(10)}") from None
            raise TargetError(f"exec in container {self._name} failed: {exc}") from None
        return (code if isinstance(code, int) else 1,
                (out or b"").decode("utf-8", "replace"), (err or b"").decode("utf-8", "replace"))

    def logs(self, tail: int = 200) -> str:
        if tail <= 0:
            return ""
        try:
            code, out, _ = self._exec_raw(["tail", "-n", str(tail), targetctl.LOG_FILE], 15)
            if code == 0:
                return out
        except TargetError:
            pass
        return self._container_logs(tail)

    def _container_logs(self, tail: int) -> str:
        try:
            return self.client.api.logs(self._container_id or self._name, tail=tail).decode(
                "utf-8", "replace")
        except DockerException:
            return ""

    def status(self) -> dict[str, Any]:
        base = {"running": False, "container": self._name, "network": self._network}
        if not self._create_attempted and not self._attach:
            return {**base, "state": "not created"}
        try:
            attrs = self.client.api.inspect_container(self._container_id or self._name)
        except NotFound:
            return {**base, "state": "removed"}
        state = attrs["State"]
        info = {**base, "running": bool(state.get("Running")), "state": state.get("Status"),
                "exit_code": state.get("ExitCode"), "id": attrs["Id"][:12]}
        if info["running"]:
            code, out, _ = self._exec_raw(["cat", targetctl.SUPERVISOR_PID, targetctl.APP_PID], 10)
            pids = [int(x) for x in out.split() if x.isdigit()]
            info["supervisor_pid"], info["app_pid"] = (pids + [None, None])[:2]
        return info

    def control_env(self) -> dict[str, str]:
        return {targetctl.ENV_BACKEND: "docker", targetctl.ENV_URL: self.url,
                targetctl.ENV_ROOT: "/", targetctl.ENV_EXPECTED_PORT: str(self._inner_port),
                targetctl.ENV_SERVICE: str(self._fault_params.get("service") or "checkout"),
                targetctl.ENV_CONTAINER: self._name,
                "DOCKER_HOST": docker_host()}

    def service_tool_argv(self) -> list[str]:
        return ["python3", "/app/faults.py"]

    def describe(self) -> dict[str, Any]:
        info = {"backend": self.backend, "url": self.url, "root": "/", "port": self.port,
                "container_port": self._inner_port, "scenario_id": self.scenario_id,
                "fault": self.fault if self.owned else None,  # attached: nothing was injected
                "container": self._name,
                "container_id": (self._container_id or "")[:12] or None, "image": self._image,
                "image_id": self._expected_image_id, "network": self._network,
                "owned": self.owned, "run_id": self._run_id, "startup_s": self.startup_s}
        if self.owned:
            info["stop_with"] = f"docker rm -f {self._name}"
            if self._fault_params:
                info["fault_params"] = self._fault_params
            if self._injections and len(self._injections) > 1:
                info["injections"] = self._injections
        return info

    def identity(self) -> dict[str, Any]:
        """For the verifier: the container exists, runs, and runs the expected image."""
        result: dict[str, Any] = {"ok": False, "container": self._name, "running": False,
                                  "image": None, "expected_image": self._image}
        try:
            attrs = self.client.api.inspect_container(self._container_id or self._name)
        except NotFound:
            return {**result, "reason": f"container {self._name} does not exist"}
        except DockerException as exc:
            return {**result, "reason": f"cannot inspect container {self._name}: {exc}"}
        expected_id = self._expected_image_id
        if expected_id is None:
            try:
                expected_id = self.client.images.get(self._image).id
            except ImageNotFound:
                expected_id = None
        running = bool(attrs["State"].get("Running"))
        result.update(running=running, image=attrs["Config"].get("Image"), image_id=attrs["Image"],
                      expected_image_id=expected_id, container_id=attrs["Id"][:12])
        if not running:
            reason = f"container {self._name} is not running (state {attrs['State'].get('Status')})"
        elif expected_id is None:
            reason = f"expected image {self._image} does not exist in the engine"
        elif attrs["Image"] != expected_id:
            reason = (f"container {self._name} runs image {result['image']} ({attrs['Image'][:19]}), "
                      f"expected {self._image} ({expected_id[:19]})")
        else:
            return {**result, "ok": True,
                    "reason": f"container {self._name} is running image {self._image}"}
        return {**result, "reason": reason}

    def cleanup(self) -> None:
        """Remove our container (force). Never removes an attached container. Idempotent."""
        self._cleaned = True
        if self._attach or not self._create_attempted:
            return
        for attempt in range(2):
            try:
                self.client.api.remove_container(self._container_id or self._name, force=True, v=True)
                return
            except NotFound:
                if self._create_returned or attempt:
                    return
                time.sleep(0.3)  # an interrupted create may still be landing in the engine
            except (DockerException, TargetError):  # engine gone: nothing more we can do
                return

    # --- internals -----------------------------------------------------------------------

    def _require_started(self, what: str) -> None:
        if not self._started or self._cleaned:
            raise TargetError(f"cannot {what}: target container {self._name} is not started "
                              "(call start() first)")

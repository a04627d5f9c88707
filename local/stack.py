"""The whole local stack in one object: moto server, provisioned resources, demo data, the Chalice API
and the SQS/schedule drivers. `python -m local.stack` (what `make run` is for) and the e2e tests use it.

Everything listens on 127.0.0.1. moto runs in this process (so the drivers and the seed code share it);
the API runs in a child process because chalice's local server rewrites the app object's class and
binds its own port, and killing that child's process group is the only way to be sure the port is freed.
"""

from __future__ import annotations

import argparse
import atexit
import collections
import importlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from chalicelib import config
from chalicelib.resources import REPOSITORY_ROOT
from local import moto_speedups
from local.drivers import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_SECONDS, ScheduleDriver, SqsDriver
from local.moto_fixes import keep_task_failure_cause
from local.provision import Provisioned, provision_all
from local.seed import seed_demo

log = logging.getLogger(__name__)  # not "tokoflow.*": Chalice("tokoflow") silences that tree

HOST = "127.0.0.1"
REGION = "ap-southeast-3"
LOCAL_PREFIX = "tokoflow-local"

# Variables that would point boto3 at a real account or a profile that may not exist on this machine.
_DROPPED_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


class SerialiseDynamoDB:
    """WSGI wrapper that runs one DynamoDB request at a time, as DynamoDB's own per-item serialisation does.

    moto's threaded server checks a transaction's conditions and then applies its writes as separate steps,
    so two concurrent TransactWriteItems can both pass a version check (seen: two reservations from the same
    stock version). Other services, including Step Functions calling back into this server, are untouched.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return self.app(environ, start_response)
        with self.lock:
            return list(self.app(environ, start_response))


class MotoServer:
    """moto's server application on a thread, with DynamoDB requests made atomic (see SerialiseDynamoDB).

    Built from moto's public WSGI pieces rather than ThreadedMotoServer, whose only way to wrap the
    application is overriding a private method.
    """

    def __init__(self, host: str, port: int) -> None:
        keep_task_failure_cause()
        moto_speedups.install()
        app = SerialiseDynamoDB(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it); for tests running stacks side by side."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Whether a server could listen on the port now. SO_REUSEADDR as the servers themselves set it, so a
    port left in TIME_WAIT by the previous run does not count as taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def chalice_config(project_dir: Path = REPOSITORY_ROOT) -> dict[str, Any]:
    """.chalice/config.json, or {} before it exists."""
    path = project_dir / ".chalice" / "config.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def chalice_stage_setting(name: str, stage: str = "dev", project_dir: Path = REPOSITORY_ROOT) -> Any:
    """A setting as chalice resolves it for a stage: the stage's own value, else the top-level one."""
    data = chalice_config(project_dir)
    stage_value = (data.get("stages") or {}).get(stage, {}).get(name)
    return stage_value if stage_value is not None else data.get(name)


def chalice_stage_environment(stage: str = "dev", project_dir: Path = REPOSITORY_ROOT) -> dict[str, str]:
    """The environment_variables chalice gives the stage's functions (top level, then the stage's own)."""
    data = chalice_config(project_dir)
    merged = dict(data.get("environment_variables") or {})
    merged.update((data.get("stages") or {}).get(stage, {}).get("environment_variables") or {})
    return {str(key): str(value) for key, value in merged.items()}


def http_answers(url: str, timeout: float = 1.0) -> bool:
    """True when anything answers HTTP at url, whatever the status: all a readiness probe needs."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


class LocalStack:
    """Start and stop the local stack; also a context manager.

    Examples
    --------
    >>> with LocalStack(moto_port=free_port(), api_port=free_port()) as stack:  # doctest: +SKIP
    ...     requests.get(f"{stack.api_url}/products")
    """

    def __init__(
        self,
        *,
        moto_port: int = 4566,
        api_port: int = 8000,
        seed: bool = True,
        drive: bool = True,
        env_overrides: dict[str, str] | None = None,
        stage: str = "local",
        fire_schedules_on_start: bool = True,
        echo_api_output: bool = True,
        api_start_timeout: float = 60.0,
    ) -> None:
        self.moto_port = moto_port
        self.api_port = api_port
        self.seed = seed
        self.drive = drive
        self.env_overrides = dict(env_overrides or {})
        self.stage = stage
        self.fire_schedules_on_start = fire_schedules_on_start
        self.echo_api_output = echo_api_output
        self.api_start_timeout = api_start_timeout
        self.resources: Provisioned | None = None
        self.sqs_driver: SqsDriver | None = None
        self.schedule_driver: ScheduleDriver | None = None
        self._moto: MotoServer | None = None
        self._api: subprocess.Popen[str] | None = None
        self._api_reader: threading.Thread | None = None
        self._api_output: collections.deque[str] = collections.deque(maxlen=200)
        self._saved_env: dict[str, str | None] = {}
        self._previous_sigterm: Any = None
        self._lock = threading.Lock()
        self._running = False

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.api_port}"

    @property
    def moto_url(self) -> str:
        return f"http://{HOST}:{self.moto_port}"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------ start

    def environment(self) -> dict[str, str]:
        """The variables this stack sets: the chalice stage's, then the local ones, then env_overrides."""
        env = chalice_stage_environment(self.stage)
        env.update(
            {
                "AWS_ENDPOINT_URL": self.moto_url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "MOTO_PORT": str(self.moto_port),  # moto's Step Functions interpreter calls services here
                config.PREFIX: LOCAL_PREFIX,
            }
        )
        env.update(self.env_overrides)
        return env

    def start(self) -> Self:
        """Bring everything up in dependency order; on any failure, tear down what already started."""
        with self._lock:
            if self._running:
                return self
            self._running = True
        try:
            for port, flag in ((self.moto_port, "--moto-port"), (self.api_port, "--api-port")):
                if not port_is_free(port):  # before any work: a second `make run` should fail at once
                    raise RuntimeError(f"port {port} is in use: pick another with {flag}")
            self._apply_environment()
            self._start_moto()
            self.resources = provision_all(endpoint_url=self.moto_url)
            if self.seed:
                seed_demo()
            self._start_api()
            if self.drive:
                self._start_drivers(self.resources)
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)
        self._install_sigterm_handler()
        print(self.banner(), flush=True)
        return self

    def _apply_environment(self) -> None:
        changes: dict[str, str | None] = dict.fromkeys(_DROPPED_VARIABLES)
        changes.update(self.environment())
        for key, value in changes.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def _start_moto(self) -> None:
        if not port_is_free(self.moto_port):  # werkzeug would exit the whole process on a busy port
            raise RuntimeError(f"port {self.moto_port} is in use: pick another with --moto-port")
        self._moto = MotoServer(HOST, self.moto_port)
        self._moto.start()
        _wait_until(lambda: http_answers(f"{self.moto_url}/moto-api/"), timeout=15, what="moto server")
        # Must precede resource creation: moto decides per state machine whether to execute it.
        request = urllib.request.Request(
            f"{self.moto_url}/moto-api/config",
            data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def _start_api(self) -> None:
        if not port_is_free(self.api_port):
            raise RuntimeError(f"port {self.api_port} is in use: pick another with --api-port")
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        # `chalice local` replaces the stage's environment_variables (the "local" stage names the tables this
        # stack provisions); AWS_ENDPOINT_URL and credentials are inherited from this process.
        command = [sys.executable, "-m", "local.chalice_main", "local", "--host", HOST, "--port", str(self.api_port),
                   "--no-autoreload", "--stage", self.stage]
        self._api = subprocess.Popen(
            command,
            cwd=REPOSITORY_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,  # its own process group: stop() can kill it and anything it spawned
        )
        self._api_reader = threading.Thread(target=self._pump_api_output, name="api-output", daemon=True)
        self._api_reader.start()
        deadline = time.monotonic() + self.api_start_timeout
        while not http_answers(f"{self.api_url}/"):
            if self._api.poll() is not None:
                if self._api_reader is not None:
                    self._api_reader.join(2)
                raise RuntimeError(f"chalice local exited with status {self._api.returncode}{self._api_log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"chalice local did not answer on {self.api_url} within {self.api_start_timeout:.0f}s"
                    + self._api_log()
                )
            time.sleep(0.2)

    def _api_log(self) -> str:
        if self.echo_api_output:
            return " (its output is above, prefixed [api])"
        return ":\n" + "".join(self._api_output)

    def _pump_api_output(self) -> None:
        assert self._api is not None and self._api.stdout is not None
        for line in self._api.stdout:
            self._api_output.append(line)
            if self.echo_api_output:
                print(f"[api] {line}", end="", flush=True)

    def _start_drivers(self, provisioned: Provisioned) -> None:
        if str(REPOSITORY_ROOT) not in sys.path:
            sys.path.insert(0, str(REPOSITORY_ROOT))
        app = importlib.import_module("app").app
        queue_urls = {queue["name"]: queue["url"] for queue in provisioned["queues"].values()}
        memory_mb = int(chalice_stage_setting("lambda_memory_size", self.stage) or DEFAULT_MEMORY_MB)
        timeout_seconds = int(chalice_stage_setting("lambda_timeout", self.stage) or DEFAULT_TIMEOUT_SECONDS)
        self.sqs_driver = SqsDriver(
            app,
            queue_urls=queue_urls,
            endpoint_url=self.moto_url,
            stage=self.stage,
            memory_mb=memory_mb,
            timeout_seconds=timeout_seconds,
        )
        self.sqs_driver.start()
        self.schedule_driver = ScheduleDriver(
            app,
            stage=self.stage,
            memory_mb=memory_mb,
            timeout_seconds=timeout_seconds,
            fire_on_start=self.fire_schedules_on_start,
        )
        self.schedule_driver.start()

    def _install_sigterm_handler(self) -> None:
        """SIGTERM (docker stop, CI timeouts, kill) should free the ports too, not only Ctrl-C."""
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None):
            return  # someone else (a test runner, a supervisor) owns SIGTERM; atexit still covers us
        self._previous_sigterm = signal.signal(signal.SIGTERM, _exit_on_sigterm)

    def banner(self) -> str:
        api = self.api_url
        lines = [
            "",
            "TokoFlow local stack is up",
            f"  API            {api}",
            f"  AWS (moto)     {self.moto_url}   e.g. aws --endpoint-url {self.moto_url} dynamodb list-tables",
            f"  resources      prefix {os.environ.get(config.PREFIX, LOCAL_PREFIX)}, region {REGION}",
            "",
            "  Get a token:   make token ROLE=customer|staff|admin|finance",
            "  Try:",
            f"    curl -s {api}/products",
            f"    curl -s {api}/categories",
            f"    curl -s -X POST {api}/carts          (guests shop without a token)",
            "  After a checkout, drive the order as the outside world would (see README, Order lifecycle):",
            "    make pay ORDER=TK-...   make pack ORDER=TK-...   make ship ORDER=TK-...   make outbox ORDER=TK-...",
            "",
            "  Ctrl-C stops everything.",
            "",
        ]
        return "\n".join(lines)

    # ------------------------------------------------------------------------------------------- stop

    def stop(self) -> None:
        """Stop drivers, the API process group and moto, then restore the environment; safe to repeat."""
        with self._lock:
            if not self._running:
                return
            self._running = False
        for driver in (self.schedule_driver, self.sqs_driver):
            if driver is not None:
                try:
                    driver.stop()
                except Exception:
                    log.exception("stopping %s failed", type(driver).__name__)
        self.schedule_driver = self.sqs_driver = None
        self._stop_api()
        if self._moto is not None:
            try:
                self._moto.stop()
            except Exception:
                log.exception("stopping moto failed")
            self._moto = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        if self._previous_sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None
        atexit.unregister(self.stop)

    def _stop_api(self) -> None:
        process, self._api = self._api, None
        if process is None:
            return
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        if self._api_reader is not None:
            self._api_reader.join(2)
            self._api_reader = None


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _wait_until(condition: Any, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer within {timeout:.0f}s")
        time.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    """`python -m local.stack`: run until Ctrl-C or SIGTERM, then stop everything."""
    parser = argparse.ArgumentParser(prog="python -m local.stack", description="Run TokoFlow locally on moto.")
    parser.add_argument("--moto-port", type=int, default=4566)
    parser.add_argument("--api-port", type=int, default=8000)
    parser.add_argument("--stage", default="local", help="chalice stage whose environment_variables apply")
    parser.add_argument("--no-seed", action="store_true", help="start without demo data")
    parser.add_argument("--no-drive", action="store_true", help="do not run SQS and schedule handlers")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log: the drivers poll constantly
    for noisy in ("botocore", "pynamodb"):  # "Found credentials", "Using Default settings value", ...
        logging.getLogger(noisy).setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # before start(): a slow start must be stoppable too
    stack = LocalStack(
        moto_port=args.moto_port,
        api_port=args.api_port,
        seed=not args.no_seed,
        drive=not args.no_drive,
        stage=args.stage,
    )
    try:
        stack.start()
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, SystemExit):  # Ctrl-C, or SIGTERM turned into SystemExit
        print("\nstopping...", flush=True)
    except RuntimeError as error:  # a busy port, an app that does not import: the message says it all
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A standalone Flink cluster (JobManager + TaskManager) from the `apache-flink` wheel.

The wheel carries Flink's runtime; the Kafka and JDBC connectors, the PostgreSQL driver and the S3
filesystem plugin come from Maven Central. They are assembled once per version in the cache as a
`lib/` and `plugins/` folder beside the wheel's own jars, so jobs need no `pipeline.jars`.
Checkpoints and savepoints go to MinIO's `flink` bucket (or local disk if so configured).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from fraudlake.config import PROJECT_ROOT
from fraudlake.platform import artifacts, process
from fraudlake.platform.errors import PlatformError
from fraudlake.platform.minio import FLINK, Minio
from fraudlake.platform.service import Port, Service
from fraudlake.platform.versions import (
    FLINK_JDBC_CONNECTOR_VERSION,
    FLINK_KAFKA_CONNECTOR_VERSION,
    FLINK_VERSION,
    POSTGRES_JDBC_DRIVER_VERSION,
)

RESOURCES = Path(__file__).parent / "resources"
S3_PLUGIN = "flink-s3-fs-hadoop"
FLINK_VENV_REQUIREMENTS = (
    f"apache-flink=={FLINK_VERSION}",
    # what the job's client side imports (contract, rules, settings) and its UDF (contract)
    "orjson==3.13.0",
    "pydantic==2.14.3",
    "PyYAML==6.0.3",
    "tenacity==9.2.1",
)


JARS_LAYOUT = "lib: wheel lib + connectors + opt/flink-python + fraudlake-udfs; plugins: s3-fs-hadoop"
"""Part of the jar folder's cache key: a change here assembles a new folder beside the old one."""
JAVA_SOURCES = PROJECT_ROOT / "flink" / "java"
"""The job's Java functions (SQL aggregates), compiled against the wheel's Flink into
lib/fraudlake-udfs.jar; their digest is part of the jar folder's key."""
UDF_JAR = "fraudlake-udfs.jar"


def _java_sources() -> list[Path]:
    return sorted(JAVA_SOURCES.rglob("*.java"))


@functools.cache
def _sources_digest() -> str:
    """Read once per process: `jars` (and every path under it) is asked for all the time."""
    digest = hashlib.sha256()
    for path in _java_sources():
        digest.update(str(path.relative_to(JAVA_SOURCES)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _requirements_key(*extra: str) -> str:
    """Part of the venv's cache key: changing a pin builds a new venv beside the old one."""
    return hashlib.sha256("\n".join([*FLINK_VENV_REQUIREMENTS, *extra]).encode()).hexdigest()[:10]


class Flink(Service):
    name = "flink"
    processes = ("flink-jobmanager", "flink-taskmanager")

    @property
    def venv(self) -> Path:
        return self.ctx.cache("venvs", f"flink-{FLINK_VERSION}-{_requirements_key()}")

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def home(self) -> Path:
        """FLINK_HOME: the distribution inside the wheel."""
        return (
            self.venv
            / "lib"
            / f"python{sys.version_info[0]}.{sys.version_info[1]}"
            / ("site-packages/pyflink")
        )

    @property
    def jars(self) -> Path:
        # keyed like the venv (lib/ links into the venv's jars) and by the folder's layout
        key = _requirements_key(JARS_LAYOUT, _sources_digest())
        return self.ctx.cache("flink", f"{FLINK_VERSION}-{key}", "jars")

    @property
    def lib_dir(self) -> Path:
        return self.jars / "lib"

    @property
    def plugins_dir(self) -> Path:
        return self.jars / "plugins"

    @property
    def conf_dir(self) -> Path:
        return self.ctx.data("flink") / "conf"

    @property
    def rest_url(self) -> str:
        return f"http://{self.settings.reach('flink')}:{self.settings.flink_rest_port}"

    def ports(self) -> list[Port]:
        s = self.settings
        return [
            Port("FRAUDLAKE_FLINK_REST_PORT", s.flink_rest_port),
            Port("FRAUDLAKE_FLINK_RPC_PORT", s.flink_rpc_port),
            Port("FRAUDLAKE_FLINK_BLOB_PORT", s.flink_blob_port),
            Port("FRAUDLAKE_FLINK_TM_DATA_PORT", s.flink_tm_data_port),
        ]

    def install(self) -> bool:
        venv_built = artifacts.ensure_dir(
            self.venv,
            lambda dest: artifacts.python_venv(self.name, dest, list(FLINK_VENV_REQUIREMENTS)),
            in_place=True,
        )
        jars_built = artifacts.ensure_dir(self.jars, self._assemble_jars)
        return venv_built or jars_built

    def _assemble_jars(self, dest: Path) -> None:
        downloads = dest / "downloads"
        artifacts.maven_copy_jars(
            self.name,
            RESOURCES / "flink-pom.xml",
            downloads,
            {
                "flink.version": FLINK_VERSION,
                "flink.kafka.version": FLINK_KAFKA_CONNECTOR_VERSION,
                "flink.jdbc.version": FLINK_JDBC_CONNECTOR_VERSION,
                "postgresql.version": POSTGRES_JDBC_DRIVER_VERSION,
            },
            transitive=False,
        )
        lib = dest / "lib"
        lib.mkdir()
        # flink-python in lib/ (parent class loader) with org.apache.beam parent-first: otherwise every
        # PyFlink job loads its ~15,000 Beam classes again and the TaskManager's metaspace runs out.
        for jar in sorted(
            [*(self.home / "lib").glob("*.jar"), *(self.home / "opt").glob("flink-python-*.jar")]
        ):
            (lib / jar.name).symlink_to(jar)
        self._compile_udfs(lib / UDF_JAR)
        plugin = dest / "plugins" / "s3-fs-hadoop"
        plugin.mkdir(parents=True)
        for jar in sorted(downloads.glob("*.jar")):
            target = plugin if jar.name.startswith(S3_PLUGIN) else lib
            shutil.move(str(jar), target / jar.name)
        downloads.rmdir()

    def _compile_udfs(self, jar: Path) -> None:
        """javac against the very jars the cluster runs (the wheel's lib/), for Java 17."""
        jdk = self.ctx.java_home / "bin"
        if not (jdk / "javac").exists():
            raise PlatformError(
                self.name,
                f"{self.ctx.java_home} has no javac",
                "install a JDK, not a JRE: openjdk-17-jdk-headless",
            )
        classes = jar.parent.parent / "classes"
        fix = f"read the compiler's output above (sources: {JAVA_SOURCES})"
        classpath = str(self.home / "lib" / "*")
        sources = [str(path) for path in _java_sources()]
        artifacts.run(
            self.name,
            [str(jdk / "javac"), "--release", "17", "-d", str(classes), "-cp", classpath, *sources],
            fix=fix,
        )
        artifacts.run(self.name, [str(jdk / "jar"), "cf", str(jar), "-C", str(classes), "."], fix=fix)
        shutil.rmtree(classes)

    def _config(self) -> dict[str, Any]:
        s = self.settings
        host, bind = s.local_host, s.bind_host
        data = self.ctx.data("flink")
        config: dict[str, Any] = {
            "jobmanager.rpc.address": host,
            "jobmanager.rpc.port": s.flink_rpc_port,
            "jobmanager.bind-host": bind,
            "jobmanager.memory.process.size": s.flink_jm_memory,
            "taskmanager.host": host,
            "taskmanager.bind-host": bind,
            # any free port (Flink's default), never a fixed one: a TaskManager restarted after a
            # crash on its predecessor's address is refused by the JobManager, which keeps that
            # address quarantined, and never registers (decision 0010)
            "taskmanager.rpc.port": 0,
            "taskmanager.data.port": s.flink_tm_data_port,
            "taskmanager.numberOfTaskSlots": s.flink_task_slots,
            "taskmanager.memory.process.size": s.flink_tm_memory,
            "taskmanager.memory.jvm-metaspace.size": "256m",
            # the hashmap state backend keeps state on the task heap; managed memory (40% by default)
            # only serves RocksDB and batch operators: with it, 1536m left ~290m of task heap
            "taskmanager.memory.managed.fraction": 0.05,
            "rest.address": s.reach("flink"),  # what `flink run` submits to
            "rest.bind-address": bind,
            "rest.port": s.flink_rest_port,
            "blob.server.port": s.flink_blob_port,
            "parallelism.default": 1,
            "io.tmp.dirs": str(data / "tmp"),
            "web.tmpdir": str(data / "web"),
            "env.log.dir": str(s.log_dir),
            "env.pid.dir": str(s.run_dir),
            "env.java.home": str(self.ctx.java_home),
            "state.backend.type": "hashmap",
            "execution.checkpointing.incremental": False,
            "restart-strategy.type": "exponential-delay",
            "classloader.parent-first-patterns.additional": "org.apache.beam.",
            "python.executable": str(s.flink_python or self.python),
            "python.client.executable": str(self.python),
        }
        config |= {
            "execution.checkpointing.dir": self.checkpoint_dir,
            "execution.checkpointing.savepoint-dir": self.savepoint_dir,
        }
        if s.flink_state_storage == "s3":
            config |= {
                "s3.endpoint": Minio(self.ctx).endpoint,
                "s3.path.style.access": True,
                "s3.access-key": FLINK.user,
                "s3.secret-key": self.ctx.secrets[FLINK.secret],
            }
        return config

    @property
    def checkpoint_dir(self) -> str:
        """Where checkpoints go: `<dir>/<job id>/chk-<n>/_metadata` (fraudlake_flink.storage lists
        them)."""
        if self.settings.flink_state_storage == "s3":
            return "s3://flink/checkpoints"
        return (self.ctx.data("flink") / "checkpoints").as_uri()

    @property
    def savepoint_dir(self) -> str:
        if self.settings.flink_state_storage == "s3":
            return "s3://flink/savepoints"
        return (self.ctx.data("flink") / "savepoints").as_uri()

    def write_conf(self) -> Path:
        """Flink's conf folder for this checkout: our config.yaml plus the wheel's log4j files."""
        conf = self.conf_dir
        conf.mkdir(parents=True, exist_ok=True)
        for name in ("log4j-console.properties", "log4j-cli.properties", "log4j.properties"):
            shutil.copyfile(self.home / "conf" / name, conf / name)
        # Keep the wheel's defaults (notably the JVM --add-opens flags Java 17 needs) under ours.
        defaults = flatten(yaml.safe_load((self.home / "conf" / "config.yaml").read_text()) or {})
        target = conf / "config.yaml"
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            yaml.safe_dump(defaults | self._config(), handle, sort_keys=True)
        for folder in ("tmp", "web"):
            (self.ctx.data("flink") / folder).mkdir(parents=True, exist_ok=True)
        return conf

    def env(self) -> dict[str, str]:
        """Environment for Flink's scripts (`bin/flink`, `bin/sql-client.sh`) against this cluster."""
        env = self.ctx.java_env()
        env |= {
            "FLINK_HOME": str(self.home),
            "FLINK_CONF_DIR": str(self.conf_dir),
            "FLINK_LIB_DIR": str(self.lib_dir),
            "FLINK_PLUGINS_DIR": str(self.plugins_dir),
            "FLINK_LOG_DIR": str(self.settings.log_dir),
            "PATH": f"{self.venv / 'bin'}:{env['PATH']}",
            # Python UDFs in thread mode run inside the TaskManager's JVM (pemja): it needs the venv
            "PYTHONPATH": str(self.home.parent),
        }
        return env

    def start(self) -> None:
        pids = self.running()
        if pids["flink-jobmanager"] is None and pids["flink-taskmanager"] is not None:
            # its tasks belong to jobs that died with their JobManager, and it would wait out the
            # heartbeat timeout (50 s) before offering its slots to a new one: a fresh one registers
            # at once (the jobs resume from their checkpoints)
            process.stop(self.pid_file("flink-taskmanager"))
            pids = self.running()
        if all(pid is None for pid in pids.values()):
            self.check_ports_free()
        # a TaskManager that just died stays registered until its heartbeat times out: the one
        # started now counts only once it registered itself
        stale = self._registered() if pids["flink-taskmanager"] is None else None
        self.write_conf()
        for proc, script in (
            ("flink-jobmanager", "jobmanager.sh"),
            ("flink-taskmanager", "taskmanager.sh"),
        ):
            if pids[proc] is None:
                process.start_detached(
                    ["bash", str(self.home / "bin" / script), "start-foreground"],
                    pid_file=self.pid_file(proc),
                    log_file=self.log_file(proc),
                    env=self.env(),
                )
        self.wait_until("flink cluster", lambda: self.probe() or self._registered_anew(stale))

    def _registered(self) -> set[str]:
        """Ids of the TaskManagers the JobManager lists (none if it does not answer)."""
        try:
            return {tm["id"] for tm in self.rest("/taskmanagers")["taskmanagers"]}
        except (urllib.error.URLError, OSError, ValueError):
            return set()

    def _registered_anew(self, stale: set[str] | None) -> str | None:
        if stale is None or self._registered() - stale:
            return None
        return "the new TaskManager has not registered yet"

    def rest(
        self, path: str, body: dict[str, Any] | None = None, timeout: float = 5, method: str = ""
    ) -> Any:
        """Call the cluster's REST API: GET, or POST with a JSON body, or the `method` given."""
        request = urllib.request.Request(  # noqa: S310 (our own http endpoint)
            f"{self.rest_url}{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method or ("GET" if body is None else "POST"),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return json.load(response)

    def probe(self) -> str | None:
        try:
            overview = self.rest("/overview")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return f"REST API {self.rest_url}: {exc}"
        if overview.get("taskmanagers", 0) < 1:
            return "no TaskManager registered yet"
        return None

    def provision(self) -> None:
        """Nothing to create: the checkpoint bucket belongs to MinIO's provisioning."""

    def connection(self, show_secrets: bool) -> dict[str, Any]:
        return {
            "rest_url": self.rest_url,
            "web_ui": self.rest_url,
            "task_slots": self.settings.flink_task_slots,
            "checkpoints": self.checkpoint_dir,
            "savepoints": self.savepoint_dir,
            "flink_home": str(self.home),
            "python": str(self.python),
        }


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flink's nested YAML as flat dotted keys, so our settings override the wheel's."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= flatten(value, f"{name}.")
        else:
            flat[name] = value
    return flat

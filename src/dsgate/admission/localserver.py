"""A private control plane that compiles and type-checks admission policies: the pinned kube-apiserver
and etcd of the gate's server check, plus kube-controller-manager running one controller, the
ValidatingAdmissionPolicy status controller, which writes each policy's `status.typeChecking`.

`render` installs its set here before printing it, through the same code as `install` (so a policy
that does not compile or type-check fails both the same way); the tests and the differential test
use it as their cluster. It starts in about 5 s and is stopped (both processes die with dsgate, see
dsgate.procs) when the `with` block ends.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import TracebackType

from dsgate import procs, rundir
from dsgate.gate.servercheck import ApiServer
from dsgate.tools import tool_path

STATUS_CONTROLLER = "validatingadmissionpolicy-status-controller"


class LocalServer:
    """`with LocalServer() as server:` server.kubeconfig reaches a private API server that type-checks policies."""

    def __init__(self, authorization: str = "AlwaysAllow", profiling: bool = False) -> None:
        self.api = ApiServer(authorization=authorization, profiling=profiling)  # RBAC: to test the rights install needs
        self._tmp = rundir.mkdtemp("dsgate-admission-")
        self.kubeconfig = self._tmp / "kubeconfig"
        self._controller: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LocalServer:
        try:
            self.api.start()
            self.api.wait_ready()
            self.api.write_kubeconfig(self.kubeconfig)
            self._start_controller()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_controller(self) -> None:
        argv = [
            str(tool_path("kube-controller-manager")),
            f"--kubeconfig={self.kubeconfig}",
            f"--controllers={STATUS_CONTROLLER}",
            "--leader-elect=false",
            "--secure-port=0",
            "--v=0",
        ]
        with (self._tmp / "kube-controller-manager.log").open("wb") as log:
            self._controller = procs.popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=procs.go_server_env()
            )

    def log(self) -> Path:
        return self._tmp / "kube-controller-manager.log"

    def stop(self) -> None:
        if self._controller is not None:
            procs.terminate(self._controller)
            self._controller = None
        self.api.stop()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

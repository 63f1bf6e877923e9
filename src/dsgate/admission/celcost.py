"""The CEL cost of an admission set (issue 25), from dsgate's own `celcost` program.

celcost (dsgate/data/celcost/main.go, built by `dsgate tools install` with kube-apiserver's CEL packages
at the pinned Kubernetes version) compiles every expression of every ValidatingAdmissionPolicy as the
API server's validating admission plugin compiles it and reports, per expression and per policy:

- `estimated` {min, max}: cel-go's estimate with the API server's cost library, object and params
  dyn (as the API server compiles them; it makes no estimate of its own for these policies), list and
  string sizes from the OpenAPI schemas where a path leads to them, variables inlined;
- `actual`: the cost the API server's accounting charges when it evaluates the policy on one object
  (a CREATE), against `RuntimeCELCostBudget` per policy and `PerCallLimit` per expression.

`report` returns its JSON as it is (the keys are celcost's, documented in its main.go).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dsgate.admission import render
from dsgate.admission.library import AdmissionError
from dsgate.tools import tool_path

TIMEOUT = 300  # seconds: 36 policies on a 350 kB DaemonSet take about a second


def report(objects: Sequence[dict[str, Any]], obj: Path | None = None) -> dict[str, Any]:
    """celcost's report on the admission set OBJECTS (and the actual cost on the object in OBJ)."""
    binary = tool_path("celcost")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="dsgate-celcost-") as policies:
        policies.write(render.dump(objects))
        policies.flush()
        argv = [str(binary), *(["-object", str(obj)] if obj is not None else []), policies.name]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise AdmissionError(
                f"celcost did not answer within {TIMEOUT} s; run it by hand: {' '.join(argv)}"
            ) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise AdmissionError(f"celcost failed (exit {done.returncode}): {last}")
    try:
        answer: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        raise AdmissionError("celcost printed no JSON report; rebuild it with 'dsgate tools install celcost'") from None
    return answer

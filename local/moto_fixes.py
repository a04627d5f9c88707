"""Where the embedded AWS differs from AWS in a way the shop relies on, one small fix each, applied by the
local stack and the offline account. tests/functional/test_moto_fixes.py fails loudly once moto changes, so
each fix is removed when moto no longer needs it.
"""

from __future__ import annotations

import inspect
from typing import Any


def keep_task_failure_cause() -> None:
    """moto 5.2's SendTaskFailure drops `cause` (AWS keeps it and a Catch passes it on as $.error.Cause): the
    order's NEEDS_ATTENTION timeline entry would read "no cause given" locally where AWS names the cause."""
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    if hasattr(StepFunctionResponse.send_task_failure, "moto_original"):
        return
    original = StepFunctionResponse.send_task_failure

    def send_task_failure(self: StepFunctionResponse) -> Any:
        backend = self.stepfunction_backend
        arguments = {"error": self._get_param("error")}
        if "cause" in inspect.signature(backend.send_task_failure).parameters:  # the executing backend only
            arguments["cause"] = self._get_param("cause")
        backend.send_task_failure(self._get_param("taskToken"), **arguments)
        return EmptyResult()

    send_task_failure.moto_original = original  # type: ignore[attr-defined]
    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]

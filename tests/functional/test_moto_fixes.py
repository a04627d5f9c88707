"""Each fix in local/moto_fixes.py is still needed, and applied: remove a fix when its first test fails."""

from __future__ import annotations

import inspect

from moto.stepfunctions.responses import StepFunctionResponse

from local import moto_fixes


def test_moto_still_drops_the_cause_of_a_task_failure_so_the_fix_is_still_needed() -> None:
    moto_fixes.keep_task_failure_cause()
    original = StepFunctionResponse.send_task_failure.moto_original  # type: ignore[attr-defined]
    assert "cause" not in inspect.getsource(original), "moto now passes the cause on: delete keep_task_failure_cause"


def test_with_the_fix_the_cause_reaches_the_executing_backend() -> None:
    moto_fixes.keep_task_failure_cause()
    moto_fixes.keep_task_failure_cause()  # idempotent: applied by the stack and by every offline account
    patched = StepFunctionResponse.send_task_failure
    assert "cause" in inspect.getsource(patched) and not hasattr(patched.moto_original, "moto_original")

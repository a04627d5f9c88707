"""The CDK stacks of TokoFlow."""

from infra.stacks.tokoflow import STAGES, StageSettings, TokoflowStack

__all__ = ["STAGES", "StageSettings", "TokoflowStack"]

"""Modules imported on first use, so a cold start pays only for what the invoked route needs.

Every route of the app is registered when `app` is imported, but one invocation runs one route: importing every
service (and with them pynamodb, botocore's clients and the areas below) up front made each cold start pay for
all of them. A routes module binds its service with `lazy_module` and imports it normally under TYPE_CHECKING,
so mypy and the import contracts still see the real dependency.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any


class _LazyModule(ModuleType):
    """Stands in for a module: reading, setting or deleting any attribute imports the real module and acts on it.

    Nothing is kept on the stand-in, and its `__dict__` is the module's, so a test patching `routes.service.f`
    patches (and restores) the service module itself, as before. The import goes through
    `importlib.import_module`, whose module locks make a first use from two threads at once safe (`chalice local`
    serves requests on threads; `importlib.util.LazyLoader` is not thread-safe before Python 3.12).
    """

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self.__name__), attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        setattr(importlib.import_module(self.__name__), attr, value)

    def __delattr__(self, attr: str) -> None:
        delattr(importlib.import_module(self.__name__), attr)

    @property
    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        return importlib.import_module(self.__name__).__dict__

    def __dir__(self) -> list[str]:
        return dir(importlib.import_module(self.__name__))


def lazy_module(name: str) -> ModuleType:
    """The module `name`, imported the first time one of its attributes is used (already imported: itself)."""
    return sys.modules[name] if name in sys.modules else _LazyModule(name)

"""Modules imported on first use, for the few heavy ones (pandas, scipy, matplotlib).

A module that needs pandas only inside its functions writes::

    if TYPE_CHECKING:
        import pandas as pd
    else:
        pd = deferred("pandas")

and pandas is imported the first time one of those functions reads ``pd.…``, not when
the module is.  The command line starts in a fraction of a second this way, because
most commands (users, tokens, the panel, opening a round, checking a study file) never
compute a statistic.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class DeferredModule:
    """Stands for a module until an attribute is read; then imports it and hands over."""

    def __init__(self, name: str) -> None:
        self._deferred_name = name

    def __getattr__(self, attribute: str) -> Any:
        """Import the module (once; later reads find it in ``sys.modules``) and read."""
        module: ModuleType = importlib.import_module(self._deferred_name)
        # Later reads of the module's own names skip this method.
        self.__dict__.update(
            {name: value for name, value in vars(module).items() if not name.startswith("__")}
        )
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<deferred module {self._deferred_name!r}>"


def deferred(name: str) -> Any:
    """A stand-in for module ``name`` that imports it on first attribute access."""
    return DeferredModule(name)


def deferred_function(module: str, name: str) -> Any:
    """A stand-in for the function ``module.name`` (e.g. ``scipy.special.expit``) that
    imports the module on the first call and passes every call on."""

    def call(*arguments: Any, **keywords: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*arguments, **keywords)

    call.__name__ = name
    call.__qualname__ = name
    call.__doc__ = f"``{module}.{name}``, imported on first call."
    return call

"""Early pytest plugin: with EAIO_VOLUPTUOUS=probatio, ``import voluptuous`` gets probatio.

Home Assistant 2026.11 replaced voluptuous this way (``probatio.compat.install_as_voluptuous()`` in
``homeassistant/__init__.py``). It has to happen before anything imports voluptuous, so before the
test harness's plugin (loaded by entry point, before any conftest): ``scripts/test`` loads this
module with ``-p tests.voluptuous_probatio``, which pytest loads before entry-point plugins.
"""

from __future__ import annotations

import os
import sys

if os.environ.get("EAIO_VOLUPTUOUS") == "probatio":
    if "voluptuous" in sys.modules:
        raise RuntimeError("voluptuous was imported before probatio could stand in for it")
    from probatio.compat import install_as_voluptuous

    install_as_voluptuous()

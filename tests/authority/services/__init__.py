"""TaskService as the authority tests deploy it: the three contract versions are the example's
(``examples/tasks-service``: contract, compatible, breaking), one source re-exported as
``tasks_v1``, ``tasks_update`` and ``tasks_migration``. Importing this package puts the example on
``sys.path``, so ``tests.authority.services.tasks_v1:TaskService`` resolves in every process that can
import ``tests`` (``aster contract gen``, the producer the gate tests start, the benchmarks) without
each of them naming the example's folder."""

import sys
from pathlib import Path

EXAMPLE = str(Path(__file__).resolve().parents[3] / "examples" / "tasks-service")
if EXAMPLE not in sys.path:
    sys.path.append(EXAMPLE)

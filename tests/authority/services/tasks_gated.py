"""TaskService v1 behind aster_authority.gate (authority address, deployment and the identity whose node
key the gate connects with, from the environment)."""

import os

from aster import service

from aster_authority.gate import AuthorityGate

from .tasks_v1 import TaskService as _Base

GATE = AuthorityGate(os.environ["AUTHTEST_AUTHORITY"], os.environ["AUTHTEST_DEPLOYMENT"],
                     refresh=float(os.environ.get("AUTHTEST_REFRESH", "0.2")),
                     grace=float(os.environ.get("AUTHTEST_GRACE", "3600")),
                     identity=os.environ.get("AUTHTEST_IDENTITY") or None)


@service(name="TaskService", version=1, interceptors=[GATE])
class TaskService(_Base):
    pass

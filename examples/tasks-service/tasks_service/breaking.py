"""TaskService changed breakingly (an authority classifies it as a migration): ``ping`` is
gone and ``task_id`` became text, so existing callers would break."""

from dataclasses import dataclass

from aster import rpc, service, wire_type


@wire_type("tasks/GetTask")
@dataclass
class GetTask:
    task_id: str = ""


@wire_type("tasks/Task")
@dataclass
class Task:
    task_id: int = 0
    title: str = ""


@service(name="TaskService", version=1)
class TaskService:
    @rpc(requires="tasks.reader")
    async def get(self, req: GetTask) -> Task:
        return Task(task_id=1, title=f"task {req.task_id}")

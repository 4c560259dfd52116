"""TaskService as first deployed: the base contract of the authority tests."""

from dataclasses import dataclass

from aster import rpc, service, wire_type


@wire_type("authtest/GetTask")
@dataclass
class GetTask:
    task_id: int = 0


@wire_type("authtest/Task")
@dataclass
class Task:
    task_id: int = 0
    title: str = ""


@service(name="TaskService", version=1)
class TaskService:
    @rpc(requires="tasks.reader")
    async def get(self, req: GetTask) -> Task:
        return Task(task_id=req.task_id, title=f"task {req.task_id}")

    @rpc
    async def ping(self, req: GetTask) -> Task:
        return Task(task_id=req.task_id, title="pong")

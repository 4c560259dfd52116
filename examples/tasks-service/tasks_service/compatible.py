"""TaskService changed compatibly (an authority classifies it as an update): a new optional
request field and a new method; every existing caller keeps working."""

from dataclasses import dataclass

from aster import rpc, service, wire_type


@wire_type("tasks/GetTask")
@dataclass
class GetTask:
    task_id: int = 0
    verbose: bool = False


@wire_type("tasks/Task")
@dataclass
class Task:
    task_id: int = 0
    title: str = ""


@service(name="TaskService", version=1)
class TaskService:
    @rpc(requires="tasks.reader")
    async def get(self, req: GetTask) -> Task:
        return Task(task_id=req.task_id, title=f"task {req.task_id}" + (" (verbose)" if req.verbose else ""))

    @rpc
    async def ping(self, req: GetTask) -> Task:
        return Task(task_id=req.task_id, title="pong")

    @rpc(requires="tasks.reader")
    async def count(self, req: GetTask) -> Task:
        return Task(task_id=2, title="two tasks")

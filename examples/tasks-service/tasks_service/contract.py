"""TaskService as first deployed: its wire types and methods are its contract.

``aster contract gen --service tasks_service.contract:TaskService`` computes the contract id
(BLAKE3 of its canonical form) that a deployment accepts and a server checks at start-up.
"""

from dataclasses import dataclass

from aster import rpc, service, wire_type


@wire_type("tasks/GetTask")
@dataclass
class GetTask:
    task_id: int = 0


@wire_type("tasks/Task")
@dataclass
class Task:
    task_id: int = 0
    title: str = ""


@service(name="TaskService", version=1)
class TaskService:
    @rpc(requires="tasks.reader")
    async def get(self, req: GetTask) -> Task:
        """One task; callers need the role tasks.reader."""
        return Task(task_id=req.task_id, title=f"task {req.task_id}")

    @rpc
    async def ping(self, req: GetTask) -> Task:
        """Open to every admitted caller: is the service there?"""
        return Task(task_id=req.task_id, title="pong")

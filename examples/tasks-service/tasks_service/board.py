"""TaskBoard and Draft: the example's other call patterns, next to TaskService.

- **TaskBoard** (version 2: its first version is retired) keeps tasks in memory: ``add`` (unary;
  the caller's ``requested-by`` call metadata is recorded as who added it), ``list`` (a server
  stream, one task per item), ``import_tasks`` (a client stream: many tasks in, one count out)
  and ``clear`` (needs the role ``tasks.admin``).
- **Draft** is session-scoped: each caller's session holds its own list of tasks (``add``,
  ``show``, ``discard``) until ``submit`` puts them on the board.

Serve them with ``python -m tasks_service.producer --service tasks_service.board:TaskBoard
--service tasks_service.board:Draft``. The tasks live in this process only (a real service
would keep them in a database).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import AsyncIterator

from aster import Interceptor, client_stream, rpc, server_stream, service, wire_type

#: the ``requested-by`` metadata of the call being handled: the runtime gives call metadata to
#: interceptors only (``ctx.metadata``), so one copies the value here, where handlers read it
REQUESTED_BY: contextvars.ContextVar[str] = contextvars.ContextVar("tasks_requested_by", default="")


class RequestedBy(Interceptor):
    async def on_request(self, ctx, request):
        REQUESTED_BY.set(ctx.metadata.get("requested-by", ""))
        return request


@wire_type("tasks/NewTask")
@dataclass
class NewTask:
    title: str = ""
    tags: list[str] = field(default_factory=list)


@wire_type("tasks/BoardTask")
@dataclass
class BoardTask:
    task_id: int = 0
    title: str = ""
    tags: list[str] = field(default_factory=list)
    added_by: str = ""


@wire_type("tasks/ListTasks")
@dataclass
class ListTasks:
    tag: str = ""
    limit: int = 0


@wire_type("tasks/NoArguments")
@dataclass
class NoArguments:
    """The request of a method that needs nothing."""


@wire_type("tasks/Added")
@dataclass
class Added:
    count: int = 0
    on_board: int = 0


@wire_type("tasks/DraftState")
@dataclass
class DraftState:
    titles: list[str] = field(default_factory=list)


class Board:
    """The tasks on the board, shared by TaskBoard and every Draft session of this process."""

    def __init__(self) -> None:
        self.tasks: list[BoardTask] = []

    def add(self, task: NewTask, added_by: str) -> BoardTask:
        added = BoardTask(task_id=len(self.tasks) + 1, title=task.title, tags=list(task.tags),
                          added_by=added_by or "anonymous")
        self.tasks.append(added)
        return added


BOARD = Board()


@service(name="TaskBoard", version=2, interceptors=[RequestedBy])
class TaskBoard:
    @rpc
    async def add(self, req: NewTask) -> BoardTask:
        """Put one task on the board; the call's requested-by metadata says who added it."""
        return BOARD.add(req, REQUESTED_BY.get())

    @server_stream
    async def list(self, req: ListTasks) -> AsyncIterator[BoardTask]:
        """The tasks on the board (those tagged ``tag`` when given), at most ``limit`` (0: all)."""
        matching = [t for t in BOARD.tasks if not req.tag or req.tag in t.tags]
        for task in matching[:req.limit] if req.limit > 0 else matching:
            yield task

    @client_stream
    async def import_tasks(self, reqs: AsyncIterator[NewTask]) -> Added:
        """Put every task sent on the board."""
        count = 0
        async for task in reqs:
            BOARD.add(task, REQUESTED_BY.get() or "import")
            count += 1
        return Added(count=count, on_board=len(BOARD.tasks))

    @rpc(requires="tasks.admin")
    async def clear(self, req: NoArguments) -> Added:
        """Take every task off the board (role tasks.admin)."""
        BOARD.tasks.clear()
        return Added(count=0, on_board=0)


@service(name="Draft", version=1, scoped="session")
class Draft:
    def __init__(self, peer: object = None) -> None:
        self.tasks: list[NewTask] = []

    @rpc
    async def add(self, req: NewTask) -> DraftState:
        """Add a task to this session's draft."""
        self.tasks.append(req)
        return self.show_state()

    @rpc
    async def show(self, req: NoArguments) -> DraftState:
        """The draft so far."""
        return self.show_state()

    @rpc
    async def discard(self, req: NoArguments) -> DraftState:
        """Throw the draft away."""
        self.tasks.clear()
        return self.show_state()

    @rpc
    async def submit(self, req: NoArguments) -> Added:
        """Put the draft's tasks on the board and start a new draft."""
        for task in self.tasks:
            BOARD.add(task, "draft")
        count, self.tasks = len(self.tasks), []
        return Added(count=count, on_board=len(BOARD.tasks))

    def show_state(self) -> DraftState:
        return DraftState(titles=[t.title for t in self.tasks])

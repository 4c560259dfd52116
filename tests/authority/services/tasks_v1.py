"""TaskService as first deployed: the base contract of the authority tests (the example's)."""

from tasks_service.contract import GetTask, Task, TaskService

__all__ = ["GetTask", "Task", "TaskService"]

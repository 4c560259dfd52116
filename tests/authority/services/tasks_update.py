"""TaskService changed compatibly (an update): the example's new optional field and new method."""

from tasks_service.compatible import GetTask, Task, TaskService

__all__ = ["GetTask", "Task", "TaskService"]

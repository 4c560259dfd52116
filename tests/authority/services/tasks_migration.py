"""TaskService changed breakingly (a migration): the example's removed ``ping`` and retyped ``task_id``."""

from tasks_service.breaking import GetTask, Task, TaskService

__all__ = ["GetTask", "Task", "TaskService"]

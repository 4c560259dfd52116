"""An example Aster service: TaskService, its contract and a runnable producer (see README.md)."""

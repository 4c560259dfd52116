"""Built-in commands of the host. Each module is imported only when its command runs."""

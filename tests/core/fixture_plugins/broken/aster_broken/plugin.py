"""A family whose plugin module raises at import (a missing dependency, say)."""
raise ImportError("No module named 'a_dependency_nobody_installed'")

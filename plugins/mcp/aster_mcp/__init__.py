"""`aster mcp`: every Aster service method as a Model Context Protocol tool."""

__version__ = "0.1.0"

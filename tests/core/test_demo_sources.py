"""The guided demo runs on what users have: nothing in ``demo/`` uses the test suite's code.

A fresh install runs the demo from a checkout's ``demo/`` and ``examples/`` only, so the demo
may neither import ``tests`` nor start it in a subprocess (``python -m tests.support.serve``,
a ``tests.x:Class`` service spec). Read from the sources with ``ast``; nothing is imported.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO_FILES = sorted((ROOT / "demo").glob("*.py"))
#: a module path into the test suite, as ``-m`` takes it or a ``MODULE:CLASS`` spec names it
TESTS_MODULE = re.compile(r"^tests(\.[A-Za-z_]\w*)*(:[A-Za-z_]\w*)?$")


def uses_of_tests(source: str) -> list[str]:
    """Each import of the ``tests`` package, and each string naming one of its modules."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] == "tests"]
        elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "tests":
            found.append(node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and TESTS_MODULE.match(node.value):
            found.append(node.value)
    return found


def test_the_demo_files_were_found():
    assert {p.name for p in DEMO_FILES} >= {"demo.py", "mcp_agent.py"}


def test_the_finder_finds_every_way_of_using_tests():
    source = ("import tests.support.services\nfrom tests.support import serve\nimport json\n"
              "from . import sibling\nrun(['python', '-m', 'tests.support.serve'])\n"
              "spec = 'tests.contract.services.shop:Inventory'\ntitle = 'tests pass'\n")
    assert sorted(uses_of_tests(source)) == ["tests.contract.services.shop:Inventory", "tests.support",
                                             "tests.support.serve", "tests.support.services"]


def test_no_demo_file_uses_the_test_suite():
    found = {p.name: uses_of_tests(p.read_text(encoding="utf-8")) for p in DEMO_FILES}
    assert not {name: uses for name, uses in found.items() if uses}

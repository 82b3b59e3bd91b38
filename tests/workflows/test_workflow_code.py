"""Workflow code stays deterministic without the SDK's sandbox at run time.

The workers run workflows unsandboxed (worker/main.py, `workflow_runner`), so nothing refuses a call to the wall
clock, randomness or I/O while a workflow runs. The recorded histories replay in the sandbox too (tests/workflows/
replay.py), which covers the paths they recorded; this check reads every workflow module for the calls a new path
could add, and for module state that one workflow run could leave to the next.
"""

import ast
from pathlib import Path

import pytest

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"

# `module.attribute` reads that differ between a run and its replay, by what workflow code uses instead.
INSTEAD = {
    "workflow.now()": ("datetime.now", "datetime.utcnow", "datetime.today", "date.today", "time.time", "time.time_ns"),
    "workflow.time()": ("time.monotonic", "time.perf_counter"),
    "workflow.sleep() or asyncio.sleep()": ("time.sleep",),
    "workflow.uuid4()": ("uuid.uuid1", "uuid.uuid4"),
    "the workflow's input or an activity": ("os.environ", "os.getenv"),
}
FORBIDDEN_ATTRIBUTES = {tuple(name.split(".")): instead for instead, names in INSTEAD.items() for name in names}
FORBIDDEN_MODULES = {"random", "secrets", "threading", "subprocess", "socket", "httpx", "sqlalchemy", "redis"}
FORBIDDEN_CALLS = {"open", "input", "print"}


def _modules() -> list[Path]:
    return sorted(path for path in WORKFLOWS.glob("*.py") if path.name != "__init__.py")


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            instead = FORBIDDEN_ATTRIBUTES.get((node.value.id, node.attr))
            if instead is not None:
                found.append(f"{where}: {node.value.id}.{node.attr} (use {instead})")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"{where}: imports {name}" for name in names if name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            found.append(f"{where}: calls {node.func.id}()")
        elif isinstance(node, ast.Global | ast.Nonlocal):
            found.append(f"{where}: rebinds {', '.join(node.names)} outside the workflow instance")
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda path: path.name)
def test_workflow_code_makes_no_non_deterministic_call(path: Path) -> None:
    assert _problems(path) == []


def test_the_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import random\nimport uuid\nfrom datetime import datetime\n\n"
        "def run():\n    global COUNT\n    print(datetime.now(), uuid.uuid4())\n"
    )
    problems = _problems(sample)
    assert [problem.split(": ", 1)[1] for problem in problems] == [
        "imports random",
        "rebinds COUNT outside the workflow instance",
        "calls print()",
        "datetime.now (use workflow.now())",
        "uuid.uuid4 (use workflow.uuid4())",
    ]

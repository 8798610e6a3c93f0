"""The package keeps its shape (ARCHITECTURE.md): small modules and functions, no cycles."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "nbopt"


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        if "labextension" not in path.parts:
            yield path, ast.parse(path.read_text())


def _name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _code_lines(fn):
    span = fn.end_lineno - fn.lineno + 1
    first = fn.body[0]
    if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant):
        span -= first.end_lineno - first.lineno + 1  # a docstring is not code
    return span


def _imports(path, tree, known):
    name = _name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = ".".join(base + [node.module or ""]).strip(".") if node.level else node.module
            found |= {target, *(f"{target}.{a.name}" for a in node.names)}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {t for t in found if t in known and t != name}


def test_no_module_over_400_lines_and_no_function_over_60():
    long_modules = [p.name for p, _ in _modules() if len(p.read_text().splitlines()) > 400]
    long_functions = [
        f"{p.name}:{node.name}"
        for p, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _code_lines(node) > 60
    ]
    assert long_modules == [] and long_functions == []


def test_no_import_cycle_and_the_engine_in_named_parts():
    trees = dict(_modules())
    known = {_name(p) for p in trees}
    edges = {_name(p): _imports(p, t, known) for p, t in trees.items()}

    def reaches(start, goal, seen):
        for nxt in edges[start] - seen:
            seen.add(nxt)
            if nxt == goal or reaches(nxt, goal, seen):
                return True
        return False

    cycles = sorted(m for m in edges if reaches(m, m, set()))
    assert cycles == []
    loose = [p.name for p in (PACKAGE / "engine").glob("*.py") if p.name != "__init__.py"]
    assert len(loose) <= 8, loose

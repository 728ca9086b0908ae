"""The package's folders are the pipeline's stages, in order; a module may import its own stage and the ones before
it, never a later one. Every import counts: at module level, inside a function, under TYPE_CHECKING, relative."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "assistant"
LAYERS = ("core", "corpus", "index", "retrieve", "question", "answer", "app", "ui")
# Above every stage, the package's face: `import assistant`, `python -m assistant` and the `assistant` command, which
# starts the web UI as well as the rest.
FACE = len(LAYERS)
FACE_MODULES = ("__main__", "cli")


def module_of(path: Path, root: Path) -> tuple[str, ...]:
    """('assistant', 'answer', 'base') for assistant/answer/base.py; a package's __init__ is the package."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    return parts[:-1] if parts[-1] == "__init__" else parts


def layer_of(module: tuple[str, ...]) -> int | None:
    """The stage a module of the package belongs to; FACE for the package itself; None outside every stage."""
    if len(module) == 1 or module[1] in FACE_MODULES:
        return FACE
    return LAYERS.index(module[1]) if module[1] in LAYERS else None


def imported(node: ast.Import | ast.ImportFrom, module: tuple[str, ...], is_package: bool) -> list[tuple[str, ...]]:
    """The modules an import statement names, absolute; `from pkg import stage` names the stage."""
    if isinstance(node, ast.Import):
        return [tuple(alias.name.split(".")) for alias in node.names]
    base = module if is_package else module[:-1]
    if node.level:
        base = base[: len(base) - (node.level - 1)]
    else:
        base = ()
    target = base + tuple((node.module or "").split(".")) if node.module else base
    if len(target) == 1:  # `from assistant import answer`: the stage; `from assistant import Assistant`: the face
        return [target + (alias.name,) if alias.name in LAYERS else target for alias in node.names]
    return [target]


def backward_imports(root: Path) -> list[str]:
    """Every import in the package at `root` that points from a stage to a later one (or to the public face)."""
    found = []
    for path in sorted(root.rglob("*.py")):
        module = module_of(path, root)
        layer = layer_of(module)
        if layer is None:
            found.append(f"{path.relative_to(root.parent)} is in no stage folder ({', '.join(LAYERS)})")
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
        for node in sorted(imports, key=lambda node: node.lineno):
            for target in imported(node, module, path.name == "__init__.py"):
                if target[0] != root.name:
                    continue
                to = layer_of(target)
                if to is None or to > layer:
                    stage = LAYERS[layer] if layer < FACE else "the package face"
                    goal = "no stage" if to is None else LAYERS[to] if to < FACE else "the package face"
                    where = f"{path.relative_to(root.parent)}:{node.lineno}"
                    found.append(f"{where} ({stage}) imports {'.'.join(target)} ({goal})")
    return found


def test_imports_point_down_the_pipeline() -> None:
    assert backward_imports(PACKAGE) == []


def test_every_stage_is_a_package() -> None:
    assert all((PACKAGE / layer / "__init__.py").is_file() for layer in LAYERS)


def test_a_backward_import_is_caught(tmp_path: Path) -> None:
    """The check itself: imports of a later stage, the face or no stage, however written, are all reported."""
    root = tmp_path / "assistant"
    files = {
        "__init__.py": "from assistant.app.main import run\n",
        "core/__init__.py": "",
        "core/text.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from ..answer import base\n"  # relative, for type hints only
            "def words():\n    import assistant.retrieve.fusion\n"  # inside a function
            "from assistant import Assistant\n"  # the public face
            "from assistant import core\n"  # its own stage: fine
        ),
        "answer/__init__.py": "",
        "answer/base.py": "from assistant.core import text\nfrom . import extractive\n",  # earlier and same stage: fine
        "app/__init__.py": "",
        "app/main.py": "from assistant.ui import render\n",
        "helpers.py": "",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    assert backward_imports(root) == [
        "assistant/app/main.py:1 (app) imports assistant.ui (ui)",
        "assistant/core/text.py:3 (core) imports assistant.answer (answer)",
        "assistant/core/text.py:5 (core) imports assistant.retrieve.fusion (retrieve)",
        "assistant/core/text.py:6 (core) imports assistant (the package face)",
        "assistant/helpers.py is in no stage folder (core, corpus, index, retrieve, question, answer, app, ui)",
    ]

"""The package's imports run one way (issue 19): each module imports only modules of its own or a lower layer, lazy
imports inside functions included, so a lower layer never depends on what is built on it."""

import ast
from pathlib import Path

import wave_network

SRC = Path(wave_network.__file__).parent
# Lowest first. A module or subpackage of the package belongs to exactly one layer.
LAYERS = [
    {"ops", "problem_types", "capabilities", "devices", "params", "ngrams"},
    {"layers", "configuration_wave", "data", "wide_fit"},
    {"modeling_wave"},
    {"presets", "registry", "baselines"},
    {"training", "config_files", "model_card"},
    {"runsets"},
    {"reporting"},
    {
        "compare",
        "glue",
        "reproduce",
        "analysis",
        "tune",
        "pretrain",
        "classifier",
        "export",
        "serving",
        "prediction_io",
    },
    {"cli", "__init__", "__main__"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _imports(path: Path):
    """(line, top-level package member) for every relative import in ``path``."""
    parts = path.relative_to(SRC).parts
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(parts[:-1])
            if node.level > 1:
                base = base[: len(base) - (node.level - 1)]
            target = base + (node.module.split(".") if node.module else [])
            for name in [target[0]] if target else [alias.name for alias in node.names]:
                yield node.lineno, name


def test_every_module_is_in_a_layer():
    members = {
        p.relative_to(SRC).parts[0].removesuffix(".py")
        for p in SRC.iterdir()
        if p.suffix == ".py" or (p / "__init__.py").exists()
    }
    assert members <= set(RANK), sorted(members - set(RANK))


def test_imports_run_one_way():
    upward = []
    for path in SRC.rglob("*.py"):
        me = path.relative_to(SRC).parts[0].removesuffix(".py")
        for line, target in _imports(path):
            if target in RANK and RANK[target] > RANK[me]:
                upward.append(f"{path.relative_to(SRC)}:{line} imports {target}")
    assert not upward, upward

"""The package's layers, read from its source: click and rich only in phasecli/cli/ and phasecli/plotting/;
the numeric core never imports the command line; a command module imports no other command module and
no private name of another module."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "phasecli"
PRESENTATION = ("cli", "plotting")
FRONT = {"api.py", "__main__.py"}  # python -m phasecli, and phasecli.api: the public name of the Python API,
# which runs the command line (cli/api.py)
# private modules the command line still reaches: the numba cache moves to phasecli/runtime/ (issue 17, numeric part)
PENDING = {"phasecli.runtime.cache"}


def imports(source: str):
    """(module, names) of every import statement in ``source``, at any depth (lazy imports included)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ()
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, tuple(alias.name for alias in node.names)


def ui_imports(source: str) -> list:
    """The click / rich modules ``source`` imports."""
    return [m for m, _ in imports(source) if m.split(".")[0] in ("click", "rich")]


def core_modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] not in PRESENTATION:
            yield rel, path.read_text()


def test_scanner_sees_every_form_of_import():
    source = "import rich.console\ndef f():\n    from click import echo\n    import numpy\n"
    assert ui_imports(source) == ["rich.console", "click"]
    assert ui_imports("import clicker\nfrom richer import x\n") == []


def test_click_and_rich_only_in_cli_and_plotting():
    offenders = {str(rel): ui_imports(text) for rel, text in core_modules() if ui_imports(text)}
    assert offenders == {}


def test_numeric_core_never_imports_the_command_line():
    offenders = {str(rel): m for rel, text in core_modules() if str(rel) not in FRONT
                 for m, _ in imports(text) if m == "phasecli.cli" or m.startswith("phasecli.cli.")}
    assert offenders == {}


COMMANDS = sorted((PACKAGE / "cli").glob("cmd_*.py"))


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: p.stem)
def test_command_modules_import_no_other_command_and_no_private_name(path):
    bad = []
    for module, names in imports(path.read_text()):
        if module.startswith("phasecli.cli.cmd_"):
            bad.append(module)
        bad += [f"{module}.{n}" for n in names
                if n.startswith("_") and n != "__version__" and f"{module}.{n}" not in PENDING]
    assert bad == []


def test_the_command_line_choices_are_the_libraries():
    """The CLI keeps its own copies of a few choice lists so that --help imports no numpy; they must be
    the library's lists, in the same order."""
    from phasecli import validate
    from phasecli.cli import options
    from phasecli.jacobian_spectrum import WEIGHTS
    from phasecli.ntk.engines import ARCHITECTURES

    assert options.ARCHITECTURES == ARCHITECTURES
    assert options.WEIGHT_LAWS == WEIGHTS
    assert options.NORMALIZATIONS == validate.NORMALIZATIONS

"""The import architecture: one direction, no circles, read from the sources with ast.

Layers, lowest first (a module may import its own layer and those below):

  soundscope               the package's own __init__ (its version)
  soundscope.configs
  soundscope.transforms
  soundscope.models        classifier, readers < networks < store < training
  soundscope.pipelines     and soundscope.runtime, which never import each other
  soundscope.cli           the command line, on top
"""

import ast
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
CARD_FOLDERS = ("configs", "transforms", "models", "pipelines", "runtime")
LAYERS = {
    "soundscope.configs": 0,
    "soundscope.transforms": 1,
    "soundscope.models": 2,
    "soundscope.pipelines": 3,
    "soundscope.runtime": 3,
    "soundscope.cli": 4,
    "soundscope.report": 4,       # the report page: presentation beside the command line
    "soundscope.__main__": 5,     # `python -m soundscope`
    "soundscope": -1,             # soundscope/__init__.py: the version, importable by all
    "soundscope.util": -1,
}
MODELS_ROOMS = {"classifier": 0, "class_map": 0, "readers": 0, "label_sets": 0, "networks": 1,
                "store": 2, "training": 3}


def package_modules():
  """{module name: source path} of every installed module, as setup.py maps the folders."""
  modules = {}
  for folder in CARD_FOLDERS + ("soundscope",):
    for path in sorted((REPO / folder).rglob("*.py")):
      parts = list(path.relative_to(REPO / folder).with_suffix("").parts)
      if parts[-1] == "__init__":
        parts = parts[:-1]
      prefix = ["soundscope"] if folder == "soundscope" else ["soundscope", folder]
      modules[".".join(prefix + parts)] = path
  return modules


def imports_of(name, path, known):
  """Names of our modules that `name` imports anywhere in its source (functions included)."""
  package = name if path.name == "__init__.py" else name.rpartition(".")[0]
  found = set()
  for node in ast.walk(ast.parse(path.read_text(), str(path))):
    if isinstance(node, ast.Import):
      targets = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
        base = ".".join(anchor + ([base] if base else []))
      targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
    else:
      continue
    for target in targets:
      while target and target not in known:
        target = target.rpartition(".")[0]
      if target and target != name:
        found.add(target)
  return found


def layer_of(module):
  """(layer rank, room rank within models) of a module name."""
  for prefix in sorted(LAYERS, key=len, reverse=True):
    if module == prefix or module.startswith(prefix + "."):
      rank = LAYERS[prefix]
      room = 0
      if prefix == "soundscope.models" and module != prefix:
        room = MODELS_ROOMS.get(module.split(".")[2], 0)
      return rank, room, prefix
  raise AssertionError(f"{module} is outside every layer")


@pytest.fixture(scope="module")
def graph():
  modules = package_modules()
  return {name: imports_of(name, path, modules) for name, path in modules.items()}


def test_no_module_imports_a_layer_above_its_own(graph):
  upward = []
  for module, targets in graph.items():
    for target in targets:
      if layer_of(target)[:2] > layer_of(module)[:2]:
        upward.append(f"{module} -> {target}")
  assert not upward, "upward imports:\n" + "\n".join(sorted(upward))


def test_pipelines_and_runtime_never_import_each_other(graph):
  crossing = [f"{module} -> {target}" for module, targets in graph.items() for target in targets
              if {layer_of(module)[2], layer_of(target)[2]} == {"soundscope.pipelines",
                                                                "soundscope.runtime"}]
  assert not crossing, crossing


def test_there_is_no_import_circle(graph):
  """Depth-first search for a back edge; the circle found is named in the failure."""
  state, stack, circles = {}, [], []

  def visit(module):
    state[module] = "open"
    stack.append(module)
    for target in sorted(graph.get(module, ())):
      if state.get(target) == "open":
        circles.append(stack[stack.index(target):] + [target])
      elif target not in state:
        visit(target)
    stack.pop()
    state[module] = "done"

  for module in sorted(graph):
    if module not in state:
      visit(module)
  assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)


def test_only_the_soundscope_namespace_is_imported(graph):
  """No module imports the card's folders by their bare names (`from models import ...`)."""
  bare = []
  for module, path in package_modules().items():
    for node in ast.walk(ast.parse(path.read_text())):
      names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
               [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
      bare += [f"{module}: {n}" for n in names if n.split(".")[0] in CARD_FOLDERS]
  assert not bare, bare


def test_the_checker_sees_real_edges(graph):
  """The graph is read right: known edges are present (so the tests above can fail)."""
  assert "soundscope.transforms.audio" in graph["soundscope.transforms.vggish_input"]
  assert "soundscope.models.networks.yamnet" in graph["soundscope.models.store.registry"]
  assert "soundscope.cli.main" in graph["soundscope.__main__"]
  assert layer_of("soundscope.models.training.train") > layer_of("soundscope.models.store.files")


def test_command_line_code_lives_in_the_cli(graph):
  """argparse is imported only under soundscope/cli: flags come from the config dataclasses."""
  users = sorted(module for module, path in package_modules().items()
                 if not module.startswith("soundscope.cli") and any(
                     isinstance(node, (ast.Import, ast.ImportFrom)) and "argparse" in (
                         [a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""])
                     for node in ast.walk(ast.parse(path.read_text()))))
  assert not users, users
  assert "soundscope.cli.flags" in graph["soundscope.cli.train"]


def test_the_runtime_constants_live_in_configs():
  assert not (REPO / "runtime" / "settings.py").exists()
  assert (REPO / "configs" / "runtime.py").is_file()

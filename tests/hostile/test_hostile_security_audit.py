"""Static security audit of the package source: nothing evaluates strings, unpickles, or talks
to the network; every ``torch.load`` is ``weights_only=True``. Nothing shells out: the corpus builder,
which runs ffmpeg, TTS engines and apt-get download, lives outside the package (tools/corpus_build)."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "detector"
SOURCES = sorted(PACKAGE.rglob("*.py"))
NETWORK_MODULES = {"socket", "urllib", "urllib3", "requests", "http", "httpx", "aiohttp", "ftplib", "smtplib",
                   "telnetlib", "xmlrpc", "socketserver", "paramiko"}


def _name(node: ast.AST) -> str:
    """Dotted name of a call target: ``torch.load``, ``eval``, ``np.load``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    return ""


def _keyword(call: ast.Call, name: str):
    for keyword in call.keywords:
        if keyword.arg == name and isinstance(keyword.value, ast.Constant):
            return keyword.value.value
    return None


def audit(relative: str, text: str) -> list[str]:
    """Problems found in the source ``text`` of the package file ``relative`` (e.g. ``data/audio.py``)."""
    problems = []
    for node in ast.walk(ast.parse(text, filename=relative)):
        where = f"{relative}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                root = module.split(".")[0]
                if root in NETWORK_MODULES:
                    problems.append(f"{where}: imports {module} (no network access in the package)")
                if root in ("subprocess", "pty"):
                    problems.append(f"{where}: imports {module}")
                if root in ("marshal", "shelve", "dill", "cloudpickle", "joblib"):
                    problems.append(f"{where}: imports {module} (object deserialisation)")
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        if name in ("eval", "exec", "compile", "__import__", "builtins.eval", "builtins.exec"):
            problems.append(f"{where}: calls {name}()")
        if name.split(".")[-1] in ("load", "loads") and name.split(".")[0] in ("pickle", "cPickle", "_pickle"):
            problems.append(f"{where}: calls {name}() (unpickling runs code)")
        if name.endswith("Unpickler"):
            problems.append(f"{where}: uses {name}")
        if name == "torch.load" and _keyword(node, "weights_only") is not True:
            problems.append(f"{where}: torch.load without weights_only=True")
        if name in ("np.load", "numpy.load") and _keyword(node, "allow_pickle") not in (None, False):
            problems.append(f"{where}: np.load with allow_pickle")
        if name in ("os.system", "os.popen", "os.execv", "os.execvp", "os.spawnv"):
            problems.append(f"{where}: calls {name}()")
        if name.startswith("subprocess.") and _keyword(node, "shell") is True:
            problems.append(f"{where}: subprocess with shell=True")
        if name in ("yaml.load", "yaml.unsafe_load"):
            problems.append(f"{where}: calls {name}()")
        # export reloads only the file it just wrote
        if name in ("torch.jit.load",) and relative != "engine/export.py":
            problems.append(f"{where}: torch.jit.load of a file it did not write")
    return problems


def test_the_audit_finds_what_it_looks_for():
    source = ("import socket\nimport pickle, subprocess\nimport torch\nx = eval('1')\npickle.loads(b'')\n"
              "torch.load('m.pt')\ntorch.load('m.pt', weights_only=False)\nsubprocess.run('ls', shell=True)\n"
              "from urllib.request import urlopen\n")
    found = audit("probe.py", source)
    for expected in ("probe.py:1: imports socket", "probe.py:2: imports subprocess", "probe.py:4: calls eval()",
                     "probe.py:5: calls pickle.loads()", "probe.py:6: torch.load without weights_only=True",
                     "probe.py:7: torch.load without", "probe.py:8: subprocess with shell=True",
                     "probe.py:9: imports urllib.request"):
        assert any(problem.startswith(expected) for problem in found), (expected, found)
    assert audit("x.py", "import torch\ntorch.load('m.pt', map_location='cpu', weights_only=True)\n") == []


def test_package_source_passes_the_security_audit():
    assert len(SOURCES) > 40
    problems = [problem for source in SOURCES
                for problem in audit(source.relative_to(PACKAGE).as_posix(), source.read_text(encoding="utf-8"))]
    assert problems == []

"""Import a package from a given folder, whatever else is on the import path: how the grader
says which ``helpers`` it means (the student's own in the sandboxed worker, the released
trusted copy in the judge), so that nothing else on the path can shadow it."""
import importlib.util
import sys
from pathlib import Path


def import_package(name: str, folder):
    """The package ``folder/name`` (its ``__init__.py``), imported as ``name``; any module of
    that name imported before is dropped first. Its submodules then import from that folder."""
    init = Path(folder) / name / "__init__.py"
    for m in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[m]
    if not init.is_file():
        raise ImportError(f"no package {name!r} in {folder} ({name}/__init__.py is missing)")
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module

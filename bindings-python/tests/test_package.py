"""The package itself: what importing it costs and what it exports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import holysheep_vault as hv


def test_import_pulls_in_no_heavy_modules() -> None:
    # Import time is measured by bench/, not asserted; this guards its main cause instead.
    code = (
        "import sys, json; before = set(sys.modules); import holysheep_vault; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    loaded = set(json.loads(out.stdout))
    heavy = {"asyncio", "typing", "logging", "re", "threading", "collections", "openai"}
    assert not loaded & heavy, f"import holysheep_vault loads {sorted(loaded & heavy)}"


def test_exports() -> None:
    for name in hv.__all__:
        assert hasattr(hv, name), name
    assert hv.__version__ == hv._native.__version__
    package = Path(hv.__file__).parent
    assert (package / "py.typed").exists() and (package / "_native.pyi").exists()

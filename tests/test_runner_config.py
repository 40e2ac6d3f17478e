"""The script runner's settings: no magic rewrite, no forced collection after every run."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest
from streamlit.runtime.scriptrunner import magic

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = [REPO_ROOT / "app.py", *sorted((REPO_ROOT / "pages").glob("*.py"))]


def test_the_runner_skips_magic_and_the_collection_after_each_run():
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"] == {"magicEnabled": False, "postScriptGC": False}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_no_script_relies_on_magic(script):
    """With magic off, a bare expression would silently show nothing: there must be none."""
    source = script.read_text()
    rewritten = ast.unparse(magic.add_magic(source, str(script)))
    assert "__streamlitmagic__.transparent_write" not in rewritten

"""What the first login form waits for: the app's imports and its database check."""

from __future__ import annotations

import subprocess
import sys


def test_starting_on_a_seeded_database_does_not_load_the_models(tmp_path):
    """The login form waits for the app's first run; seeding code (and scikit-learn) is not
    needed when the database already holds data."""
    from tests.apptest_support import build_seeded_file

    database = build_seeded_file(tmp_path / "larder.db")
    code = (
        "import sys; from data.db import make_engine; from data.bootstrap import ensure_database;"
        f"ensure_database(make_engine('sqlite:///{database}'));"
        "import ui.login, ui.auth, ui.account, ui.inbox, ui.navigation, ui.components;"
        "print(sorted(m for m in ('sklearn', 'scipy', 'altair') if m in sys.modules))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert shown.strip().splitlines()[-1] == "[]"

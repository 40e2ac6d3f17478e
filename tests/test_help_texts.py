"""Command-line help speaks of Larder in its own words, and says what data it times."""

from __future__ import annotations

import importlib
import re

import pytest

COMMANDS = [
    "models.evaluate",
    "models.train",
    "models.backtest",
    "bench.bench_forecast",
    "bench.bench_orders",
    "bench.bench_seed",
    "bench.bench_login",
    "data.__main__",
]
PROJECT_WORDS = re.compile(r"\bissues?\b|done[- ]means|\bticket|#\d+", re.IGNORECASE)


def help_text(module_name: str, capsys) -> str:
    module = importlib.import_module(module_name)
    with pytest.raises(SystemExit):
        module.main(["--help"])
    return capsys.readouterr().out


@pytest.mark.parametrize("module_name", COMMANDS)
def test_help_does_not_speak_of_issues(module_name, capsys):
    text = help_text(module_name, capsys)
    assert text.startswith("usage:")
    assert PROJECT_WORDS.findall(text) == [], text


def test_forecast_bench_says_when_it_times_generated_data(capsys, monkeypatch):
    import bench.bench_forecast as bench

    monkeypatch.setattr(bench, "seasonal_history", _stop)
    with pytest.raises(_Stopped):
        bench.main(["--products", "3", "--periods", "10"])
    assert "No --database given: timing a generated history of 3 products" in (
        capsys.readouterr().out
    )


class _Stopped(Exception):
    pass


def _stop(*args, **kwargs):
    raise _Stopped

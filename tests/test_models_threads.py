"""Thread caps for model fitting: the OpenMP pool scikit-learn uses follows --threads."""

from __future__ import annotations

import pytest
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from threadpoolctl import threadpool_limits

from models.threads import DEFAULT_THREADS, limited_threads, thread_count


def test_fitting_threads_follow_the_cap_and_are_restored_after():
    with threadpool_limits(limits=2, user_api="openmp"):  # the tests themselves run with one
        assert _openmp_effective_n_threads() == 2
        with limited_threads(1) as count:
            assert count == 1
            assert _openmp_effective_n_threads() == 1
        assert _openmp_effective_n_threads() == 2


def test_default_and_environment(monkeypatch):
    monkeypatch.delenv("LARDER_THREADS", raising=False)
    assert thread_count() == DEFAULT_THREADS == 1
    monkeypatch.setenv("LARDER_THREADS", "2")
    assert thread_count() == 2
    assert thread_count(3) == 3  # the command line wins over the environment


def test_zero_threads_is_refused():
    with pytest.raises(ValueError, match="threads must be at least 1"):
        thread_count(0)


def test_training_command_caps_threads_while_fitting(sqlite_engine, monkeypatch, capsys):
    from models import train as train_module

    seen = []

    def fake_train_all(engine, freq, horizon, origins, thresholds, kinds):
        seen.append(_openmp_effective_n_threads())
        return {}

    monkeypatch.setattr(train_module, "train_all", fake_train_all)
    assert train_module.main(["--database", str(sqlite_engine.url), "--threads", "1"]) == 0
    assert seen == [1]
    assert "fitting with 1 thread(s)" in capsys.readouterr().out

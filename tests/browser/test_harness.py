"""The harness refuses to pass quietly when the browser is missing."""

from __future__ import annotations

import pytest

from tests.browser import harness


@pytest.fixture
def no_chromium(monkeypatch, tmp_path):
    monkeypatch.setattr(harness, "CHROMIUM_PATH", tmp_path / "no-chromium")


def test_missing_chromium_fails_in_ci(no_chromium, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no-chromium is missing"):
        harness.require_chromium()


def test_missing_chromium_skips_locally_with_the_reason(no_chromium, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="install Debian's chromium"):
        harness.require_chromium()

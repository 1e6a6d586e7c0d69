"""Chromium that cannot start says why: a TMPDIR too long for its profile lock's Unix socket."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from harness.errors import BrowserError
from harness.touchpoints.web import TMPDIR_MAX, BrowserHost

pytestmark = [pytest.mark.integration, pytest.mark.browser]


@pytest.mark.parametrize("length", [TMPDIR_MAX, TMPDIR_MAX + 1])
def test_a_tmpdir_too_long_for_chromiums_lock_socket_is_named(
    length: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chromium (/usr/bin/chromium) exits at once when TMPDIR is 63 characters or more, and
    # Playwright says only "Target page, context or browser has been closed": the harness
    # said to install Chromium
    base = tempfile.mkdtemp(prefix="tl-")
    try:
        tmpdir = Path(base) / ("x" * (length - len(base) - 1))
        tmpdir.mkdir()
        assert len(str(tmpdir)) == length
        monkeypatch.setenv("TMPDIR", str(tmpdir))
        host = BrowserHost()
        try:
            if length <= TMPDIR_MAX:
                host.start()
                assert host.connected
            else:
                with pytest.raises(BrowserError, match=f"TMPDIR is {length} characters long"):
                    host.start()
        finally:
            host.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)

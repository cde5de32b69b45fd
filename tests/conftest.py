"""pytest configuration: offline tiktoken for every test (see testutil.py for shared helpers)."""

from __future__ import annotations

import os

from testutil import TIKTOKEN_CACHE

# tiktoken reads this at get_encoding() time; set it before any test imports tiktoken.
if TIKTOKEN_CACHE.is_dir():
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(TIKTOKEN_CACHE))

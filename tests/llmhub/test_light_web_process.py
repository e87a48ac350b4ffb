"""DESIGN.md invariant 7: the web process loads neither llama.cpp nor numpy."""
import subprocess
import sys

from django.conf import settings


def test_importing_the_asgi_app_loads_no_inference_library():
    code = (
        "import sys, llmhub.asgi, chat.consumers, chat.tasks, chat.services;"
        "print(sorted(m for m in ('llama_cpp', 'numpy', 'inference.engine') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=settings.BASE_DIR, check=True, timeout=60)
    assert result.stdout.strip() == "[]"

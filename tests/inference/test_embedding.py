"""Embeddings from the real demo model (mean-pooled: it is a chat model)."""
import math

import pytest

from inference.backends import BackendError
from inference.backends.llamacpp import LlamaCppBackend
from inference.types import ModelSpec
from models_registry.demo import demo_model_path


@pytest.fixture(scope="module")
def backend():
    return LlamaCppBackend()


@pytest.fixture(scope="module")
def spec():
    return ModelSpec(name="demo", backend="llamacpp", file_path=str(demo_model_path()),
                     context_length=256, n_threads=2)


def cosine(a, b) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_texts_get_normalised_vectors_where_alike_texts_are_closer(backend, spec):
    (cat, kitten, tax), tokens = backend.embed(spec, [
        "The cat sleeps on the sofa.", "A kitten naps on the couch.",
        "Quarterly tax filing deadlines for corporations."])
    assert len(cat) == 576  # SmolLM2-135M's embedding size
    assert math.isclose(math.sqrt(sum(v * v for v in cat)), 1.0, rel_tol=1e-4)
    assert cosine(cat, kitten) > cosine(cat, tax)
    assert tokens > 15


def test_the_same_text_gives_the_same_vector(backend, spec):
    (first,), _ = backend.embed(spec, ["Bonjour, ça va ?"])
    (again,), _ = backend.embed(spec, ["Bonjour, ça va ?"])
    assert first == again


def test_a_text_longer_than_the_context_is_refused_with_its_size(backend, spec):
    with pytest.raises(BackendError, match=r"input is \d+ tokens, model context is 256"):
        backend.embed(spec, ["word " * 400])

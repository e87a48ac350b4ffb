"""The llama.cpp engine on the real demo model, in this process."""
import threading

import pytest

from inference.engine import LlamaEngine, PromptTooLong
from inference.types import Completion, GenerationRequest, ModelSpec, TextChunk
from models_registry.demo import demo_model_path


@pytest.fixture(scope="module")
def spec() -> ModelSpec:
    return ModelSpec(name="demo", backend="llamacpp", file_path=str(demo_model_path()),
                     context_length=1024)


@pytest.fixture(scope="module")
def engine(spec) -> LlamaEngine:
    return LlamaEngine(spec)


def run(engine, spec, text, **options) -> tuple[list[str], Completion]:
    request = GenerationRequest(model=spec, messages=[{"role": "user", "content": text}],
                                temperature=0.0, **options)
    chunks, completion = [], None
    for event in engine.generate(request):
        if isinstance(event, TextChunk):
            chunks.append(event.text)
        else:
            completion = event
    return chunks, completion


def test_greedy_output_matches_llama_generate(engine, spec):
    from llama_cpp import Llama

    chunks, completion = run(engine, spec, "Name three colours.", max_tokens=40)
    reference = Llama(model_path=spec.file_path, n_ctx=spec.context_length, verbose=False)
    prompt = engine.prompt_tokens([{"role": "user", "content": "Name three colours."}])
    expected = []
    for token in reference.generate(prompt, temp=0.0, top_k=40, top_p=0.95, min_p=0.05):
        if token == reference.token_eos() or len(expected) == completion.completion_tokens:
            break
        expected.append(token)
    assert "".join(chunks) == reference.detokenize(expected).decode("utf-8")
    assert completion.completion_tokens == len(expected)


def test_max_tokens_ends_the_reply_with_length(engine, spec):
    chunks, completion = run(engine, spec, "Tell me a long story.", max_tokens=7)
    assert (completion.finish_reason, completion.completion_tokens) == ("length", 7)
    assert chunks


def test_the_end_of_turn_token_ends_the_reply_with_stop(engine, spec):
    _, completion = run(engine, spec, "What is 2+2? Answer with one number.", max_tokens=100)
    assert completion.finish_reason == "stop"
    assert completion.completion_tokens < 100


def test_every_chunk_is_whole_utf8_for_accents_and_emoji(engine, spec):
    text = "Répète exactement: « Café, crème brûlée, déjà vu 🍰🐉😀 » et ajoute des emoji."
    chunks, _ = run(engine, spec, text, max_tokens=80)
    joined = "".join(chunks)
    assert "\ufffd" not in joined
    assert any(ord(ch) > 0x7F for ch in joined)
    for chunk in chunks:
        chunk.encode("utf-8")  # a lone surrogate or split character would raise


def test_a_prompt_longer_than_the_context_is_refused_with_its_size(engine, spec):
    with pytest.raises(PromptTooLong) as refused:
        run(engine, spec, "word " * 2000)
    assert refused.value.message.endswith("tokens, model context is 1024")
    assert refused.value.permanent


def test_a_cancelled_request_stops_at_the_next_token(engine, spec):
    request = GenerationRequest(model=spec, messages=[{"role": "user", "content": "Count."}],
                                temperature=0.0, max_tokens=500)
    seen = 0
    for event in engine.generate(request):
        if isinstance(event, TextChunk):
            seen += 1
            if seen == 3:
                request.cancelled.set()
        else:
            completion = event
    assert completion.finish_reason == "cancelled"
    assert completion.completion_tokens <= 4


def test_two_threads_share_one_engine_and_both_finish(engine, spec):
    results = {}

    def ask(key, text):
        results[key] = "".join(run(engine, spec, text, max_tokens=20)[0])

    threads = [threading.Thread(target=ask, args=(i, f"Say the number {i}.")) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert set(results) == {0, 1}
    assert results[0] == "".join(run(engine, spec, "Say the number 0.", max_tokens=20)[0])


def test_an_unreadable_model_file_fails_with_a_clear_error(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    broken = LlamaEngine(ModelSpec(name="bad", backend="llamacpp", file_path=str(bad),
                                   context_length=512))
    request = GenerationRequest(model=broken.spec, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(Exception) as failed:
        list(broken.generate(request))
    assert "could not load bad" in str(failed.value)

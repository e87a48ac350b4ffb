"""The baseline: llama-cpp-python called in this process, the way the hub's engine calls it.

The prompt, the sampler settings and the stop rule copy ``inference.engine.LlamaEngine`` so
that both sides do the same work for the same tokens; only the hub's plumbing differs.
"""
import dataclasses
import time
from pathlib import Path

from inference.types import GenerationRequest


@dataclasses.dataclass(frozen=True)
class InProcessRun:
    prompt_tokens: int
    completion_tokens: int
    ttft_ms: float
    tokens_per_second: float | None
    text: str


def hub_sampling() -> dict:
    # The engine passes the GenerationRequest defaults it is given; the same values keep
    # the sampler chain (and its cost per token) identical on both sides.
    names = ("top_k", "top_p", "min_p", "repeat_penalty")
    return {f.name: f.default for f in dataclasses.fields(GenerationRequest) if f.name in names}


def decode_tokens_per_second(count: int, first_at: float | None, last_at: float | None):
    # The first token's time belongs to the prompt, as in the hub's own figure.
    if count < 2 or first_at is None or last_at is None or last_at <= first_at:
        return None
    return (count - 1) / (last_at - first_at)


class InProcessLlama:
    """One Llama kept loaded across runs, as the hub's worker keeps its engine."""

    def __init__(self, model_path: Path, *, context_length: int) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        # n_threads is left to llama.cpp, as the hub does when LLMHUB_LLAMA_THREADS is unset.
        self.llama = Llama(model_path=str(model_path), n_ctx=context_length, verbose=False)
        vocab_piece = self.llama._model.token_get_text
        self.formatter = Jinja2ChatFormatter(
            template=self.llama.metadata["tokenizer.chat_template"],
            eos_token=vocab_piece(self.llama.token_eos()),
            bos_token=vocab_piece(self.llama.token_bos()),
        )

    @property
    def n_threads(self) -> int:
        return self.llama.n_threads

    def prompt_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        formatted = self.formatter(messages=messages)
        return self.llama.tokenize(
            formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
        )

    def is_end_of_generation(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self.llama._model.vocab, token))

    def run(self, prompt: str, *, max_tokens: int) -> InProcessRun:
        # The clock starts before the chat template, as the hub's TTFT does.
        started = time.perf_counter()
        prompt_tokens = self.prompt_tokens([{"role": "user", "content": prompt}])
        budget = min(max_tokens, self.llama.n_ctx() - len(prompt_tokens))
        generated: list[int] = []
        first_at = last_at = None
        for token in self.llama.generate(prompt_tokens, temp=0.0, **hub_sampling()):
            if self.is_end_of_generation(token):
                break
            last_at = time.perf_counter()
            first_at = first_at or last_at
            generated.append(token)
            if len(generated) >= budget:
                break
        return InProcessRun(
            prompt_tokens=len(prompt_tokens),
            completion_tokens=len(generated),
            ttft_ms=(first_at - started) * 1000 if first_at else float("nan"),
            tokens_per_second=decode_tokens_per_second(len(generated), first_at, last_at),
            text=self.llama.detokenize(generated).decode("utf-8", errors="replace"),
        )

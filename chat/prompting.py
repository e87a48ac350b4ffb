"""What a reply asks its backend: the messages or prompt, and the sampling settings."""
from chat.models import Conversation, Message
from chat.selectors import generation_history
from inference.types import GenerationRequest
from models_registry.serving import model_spec

# What an API request may set for its own reply (Message.params), beside the messages or
# raw prompt.
SAMPLING_PARAMS = ("max_tokens", "temperature", "top_p", "top_k", "min_p", "repeat_penalty",
                   "seed", "logprobs", "json_output")
# What a chat conversation may set (Conversation.settings); the rest are the model's.
CONVERSATION_SETTINGS = ("temperature", "top_p", "max_tokens", "seed", "context_length")
DEFAULT_TOP_P = GenerationRequest.top_p


def conversation_settings_defaults(conversation: Conversation) -> dict:
    """What a conversation uses for each setting it leaves unset: the model's own."""
    model = conversation.model
    return {"temperature": model.temperature, "top_p": DEFAULT_TOP_P,
            "max_tokens": model.max_tokens, "seed": None,
            "context_length": model.context_length}


def conversation_settings_effective(conversation: Conversation) -> dict:
    chosen = {name: value for name, value in (conversation.settings or {}).items()
              if name in CONVERSATION_SETTINGS and value is not None}
    return conversation_settings_defaults(conversation) | chosen


def generation_request(reply: Message) -> GenerationRequest:
    if reply.params:
        return _api_request(reply)
    return _chat_request(reply)


def _api_request(reply: Message) -> GenerationRequest:
    model = reply.conversation.model
    params = reply.params
    if "prompt" in params:
        messages, prompt = [], params["prompt"]
    else:
        messages, prompt = params.get("messages") or generation_history(reply=reply), None
    options = {name: params[name] for name in SAMPLING_PARAMS if params.get(name) is not None}
    return GenerationRequest(
        model=model_spec(model),
        messages=messages,
        prompt=prompt,
        stop=tuple(params.get("stop") or ()),
        **({"max_tokens": model.max_tokens, "temperature": model.temperature} | options),
    )


def _chat_request(reply: Message) -> GenerationRequest:
    """A chat page's reply: its branch's history after the conversation's system prompt,
    with the conversation's settings."""
    conversation = reply.conversation
    settings = conversation_settings_effective(conversation)
    system = ([{"role": "system", "content": conversation.system_prompt}]
              if conversation.system_prompt else [])
    return GenerationRequest(
        model=model_spec(conversation.model),
        messages=system + generation_history(reply=reply),
        max_tokens=min(settings["max_tokens"], settings["context_length"]),
        temperature=settings["temperature"],
        top_p=settings["top_p"],
        seed=settings["seed"],
        context_window=settings["context_length"],
    )

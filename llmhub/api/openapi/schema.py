"""Small builders of JSON Schema and OpenAPI pieces, shared by both APIs' descriptions."""


# --- schema helpers -----------------------------------------------------------------------


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict, *required: str, **keywords) -> dict:
    schema = {"type": "object", "properties": properties, **keywords}
    return schema | {"required": list(required)} if required else schema


def optional(kind: str, **keywords) -> dict:
    """A field the views check when present; null counts as absent."""
    return {"type": [kind, "null"], **keywords}


def array(items: dict, **keywords) -> dict:
    return {"type": "array", "items": items, **keywords}


def stop_strings(most: int) -> dict:
    text = {"type": "string", "minLength": 1}
    return {"anyOf": [text, array(text, maxItems=most), {"type": "null"}],
            "description": f"A string or up to {most} non-empty strings."}


def unread(condition: str) -> dict:
    """A field the view reads only in some requests: its schema is in read_when."""
    return {"description": f"Read only {condition}; otherwise ignored."}


def read_when(condition: dict, **fields: dict) -> dict:
    return {"if": condition, "then": {"properties": fields}}


def texts() -> dict:
    return {"anyOf": [{"type": "string"}, array({"type": "string"}, minItems=1)]}


def model_name() -> dict:
    return {"type": "string", "minLength": 1, "description": "A model's name, as listed."}


INTEGER = {"type": "integer"}
COUNT = {"type": "integer", "minimum": 0}
STRING = {"type": "string"}
NONEMPTY = {"type": "string", "minLength": 1}
TIMESTAMP = {"type": "string", "format": "date-time"}


# --- operations ---------------------------------------------------------------------------


def json_content(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def request_body(schema: dict) -> dict:
    return {"required": True, "content": json_content(schema)}


ERROR_DESCRIPTIONS = {
    400: "The body is not a JSON object, or a field the hub reads is wrong; the message "
         "names it.",
    401: "No key, or an unknown, revoked or expired one.",
    403: "The key is not an admin key of a staff user.",
    404: "No such model, or the key may not use it.",
    405: "The method is not allowed on this path.",
    409: "The model cannot be deleted now; the message says why.",
    413: "The body is over the hub's upload limit.",
    429: "The key is over its requests or tokens per minute.",
    500: "The generation failed.",
    502: "The generation or the worker failed.",
    503: "No worker serves the model.",
    504: "The worker did not answer in time.",
}


def error_responses(shape: str, *statuses: int) -> dict:
    responses = {}
    for status in statuses:
        responses[str(status)] = {"description": ERROR_DESCRIPTIONS[status],
                                  "content": json_content(ref(shape))}
    if 429 in statuses:
        responses["429"]["headers"] = {"Retry-After": {
            "required": True, "description": "Seconds until the key's window ends.",
            "schema": {"type": "integer", "minimum": 0}}}
    return responses


def operation(summary: str, tag: str, responses: dict, *, body: dict | None = None,
               public: bool = False, **keywords) -> dict:
    operation = {"summary": summary, "tags": [tag], "responses": responses, **keywords}
    if body is not None:
        operation["requestBody"] = request_body(body)
    if public:
        operation["security"] = []
    return operation


def ok(content: dict, description: str = "Success.") -> dict:
    return {"200": {"description": description, "content": content}}

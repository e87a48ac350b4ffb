"""Embeddings for both APIs: a Celery task on the model's queue computes the vectors and
hands them back through a Redis list the waiting view pops (no stream: the result comes
whole)."""
import json
import uuid

from asgiref.sync import sync_to_async
from celery import shared_task

from llmhub.api.calls import ApiCall, ApiError
from llmhub.redis import redis_async_client, redis_client
from models_registry.models import REMOTE_QUEUE, Model, model_queue_name
from models_registry.selectors import model_live_workers, model_workers_name

RESULT_TTL_SECONDS = 300
WAIT_SECONDS = 300


def _result_key(job_id: str) -> str:
    return f"llmhub:embed:{job_id}"


@shared_task(name="api.embed", acks_late=True)
def embed(job_id: str, model_id: int, texts: list[str]) -> None:
    from inference.backends import BackendError, backend_get
    from models_registry.serving import model_spec

    try:
        model = Model.objects.get(pk=model_id)
        vectors, tokens = backend_get(model.backend).embed(model_spec(model), texts)
        result = {"embeddings": vectors, "tokens": tokens}
    except BackendError as error:
        result = {"error": error.message}
    except NotImplementedError:
        result = {"error": "this model's backend does not compute embeddings"}
    except Exception as error:  # the caller waits for an answer: always give one
        result = {"error": f"the worker hit an error: {error}"}
    pipe = redis_client().pipeline()
    pipe.rpush(_result_key(job_id), json.dumps(result))
    pipe.expire(_result_key(job_id), RESULT_TTL_SECONDS)
    pipe.execute()


async def embeddings_compute(call: ApiCall, texts: list[str]) -> tuple[list[list[float]], int]:
    """Vectors for ``texts`` with the call's model, and the tokens they counted."""
    model = call.model
    if not await sync_to_async(model_live_workers)(model_workers_name(model)):
        raise ApiError(503, f"no worker is serving {model.name}", kind="server_error")
    job_id = uuid.uuid4().hex
    queue = model_queue_name(model.name) if model.backend == Model.Backend.LLAMACPP \
        else REMOTE_QUEUE
    embed.apply_async(args=[job_id, model.pk, texts], queue=queue)
    client = redis_async_client()
    try:
        popped = await client.blpop([_result_key(job_id)], timeout=WAIT_SECONDS)
    finally:
        await client.aclose()
    if popped is None:
        raise ApiError(504, f"no embeddings from {model.name} within {WAIT_SECONDS} s",
                       kind="server_error")
    result = json.loads(popped[1])
    if "error" in result:
        raise ApiError(502, result["error"], kind="server_error")
    return result["embeddings"], result["tokens"]

"""Celery tasks: thin adapters that call one service."""
from celery import shared_task


@shared_task(name="chat.generate_reply", bind=True, acks_late=True)
def generate_reply(self, reply_id: int) -> None:
    from chat.generation import generation_run

    generation_run(reply_id=reply_id, worker_name=self.request.hostname)

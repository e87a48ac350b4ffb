"""The chat websocket: checks who may listen, then relays generation streams."""
import asyncio
import contextlib
from types import SimpleNamespace

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _

from chat import selectors, services
from chat.payloads import (
    CLOSE_NOT_FOUND,
    CLOSE_NOT_LOGGED_IN,
    BranchEvent,
    ConversationEvent,
    ErrorEvent,
    MessageEvent,
    message_payload,
)
from inference.streams import generation_stream_read
from llmhub.redis import redis_async_client


class ChatConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.refuse(CLOSE_NOT_LOGGED_IN)
            return
        conversation_id = int(self.scope["url_route"]["kwargs"]["conversation_id"])
        self.conversation = await database_sync_to_async(selectors.conversation_get)(
            user=user, conversation_id=conversation_id
        )
        if self.conversation is None:
            await self.refuse(CLOSE_NOT_FOUND)
            return
        self.redis = redis_async_client()
        self.relays: dict[int, asyncio.Task] = {}
        self.language = _language_of(self.scope)
        await self.accept()

    async def refuse(self, code: int) -> None:
        # Closing before accepting answers the handshake with a bare HTTP 403; accepting
        # first lets the page tell "log in again" from "not yours or gone".
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        for relay in getattr(self, "relays", {}).values():
            relay.cancel()
        if hasattr(self, "redis"):
            await self.redis.aclose()

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        try:
            content = await self.decode_json(text_data or "")
        except ValueError:
            with translation.override(self.language):
                await self.send_json(ErrorEvent(type="error",
                                                error=_("Request is not valid JSON.")))
            return
        # The page's language, as LocaleMiddleware would pick it for a page: the services'
        # refusals reach the page as error events.
        with translation.override(self.language):
            await self.receive_json(content)

    async def receive_json(self, content: dict, **kwargs) -> None:
        handlers = {"send": self.on_send, "stop": self.on_stop, "resume": self.on_resume,
                    "regenerate": self.on_regenerate, "edit": self.on_edit,
                    "switch": self.on_switch}
        handler = handlers.get(content.get("type") if isinstance(content, dict) else None)
        if handler is None:
            await self.send_json(ErrorEvent(type="error", error=_("Unknown request.")))
            return
        await handler(content)

    async def on_send(self, content: dict) -> None:
        try:
            user_message, reply = await database_sync_to_async(services.message_post)(
                conversation=self.conversation, text=str(content.get("text", ""))
            )
        except ValidationError as error:
            await self.send_json(ErrorEvent(type="error", error=" ".join(error.messages)))
            return
        await self.send_json(ConversationEvent(type="conversation", title=str(self.conversation)))
        for message in (user_message, reply):
            await self.send_json(MessageEvent(type="message", message=message_payload(message)))
        self.relay_start(reply, after_seq=0)

    async def on_regenerate(self, content: dict) -> None:
        reply = await self.reply_from(content)
        if reply is not None:
            await self.branch_change(services.reply_regenerate, reply=reply)

    async def on_edit(self, content: dict) -> None:
        message = await self.message_from(content)
        if message is not None:
            await self.branch_change(services.message_edit, message=message,
                                     text=str(content.get("text", "")))

    async def on_switch(self, content: dict) -> None:
        message = await self.message_from(content)
        if message is not None:
            await self.branch_change(services.branch_switch, message=message)

    async def branch_change(self, service, **arguments) -> None:
        """Run a service that changes the branch on show, then send that branch whole and
        follow its reply if one was queued."""
        try:
            await database_sync_to_async(service)(conversation=self.conversation, **arguments)
        except ValidationError as error:
            await self.send_json(ErrorEvent(type="error", error=" ".join(error.messages)))
            return
        branch = await database_sync_to_async(selectors.message_list)(
            conversation=self.conversation)
        await self.send_json(BranchEvent(type="branch",
                                         messages=[message_payload(m) for m in branch]))
        for message in branch:
            if message.is_active:
                self.relay_start(message, after_seq=0)

    async def on_stop(self, content: dict) -> None:
        reply = await self.reply_from(content)
        if reply is not None:
            await database_sync_to_async(services.generation_cancel)(reply=reply)

    async def on_resume(self, content: dict) -> None:
        reply = await self.reply_from(content)
        after_seq = content.get("after_seq", 0)
        if reply is not None and isinstance(after_seq, int) and after_seq >= 0:
            self.relay_start(reply, after_seq=after_seq)

    async def reply_from(self, content: dict):
        reply_id = content.get("reply_id")
        if not isinstance(reply_id, int):
            await self.send_json(ErrorEvent(type="error", error=_("reply_id must be an integer.")))
            return None
        return await database_sync_to_async(selectors.reply_get)(
            conversation=self.conversation, reply_id=reply_id
        )

    async def message_from(self, content: dict):
        message_id = content.get("message_id")
        if not isinstance(message_id, int):
            await self.send_json(ErrorEvent(type="error",
                                            error=_("message_id must be an integer.")))
            return None
        message = await database_sync_to_async(selectors.message_get)(
            conversation=self.conversation, message_id=message_id)
        if message is None:
            await self.send_json(ErrorEvent(type="error", error=_("No such message.")))
        return message

    def relay_start(self, reply, *, after_seq: int) -> None:
        previous = self.relays.pop(reply.pk, None)
        if previous:
            previous.cancel()
        self.relays[reply.pk] = asyncio.create_task(self.relay(reply, after_seq))

    async def relay(self, reply, after_seq: int) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            async for frame in generation_stream_read(self.redis, reply.pk, after_seq=after_seq):
                if frame is None:
                    # Nothing for a while: make sure someone can still finish this reply.
                    await database_sync_to_async(services.generation_check)(reply=reply)
                    continue
                await self.send_json({**frame, "reply_id": reply.pk})


def _language_of(scope: dict) -> str:
    """The language LocaleMiddleware gives the page: the switch's cookie, else the
    browser's Accept-Language, else English."""
    headers = {name.decode("latin-1"): value.decode("latin-1")
               for name, value in scope.get("headers", [])}
    request = SimpleNamespace(COOKIES=scope.get("cookies", {}),
                              META={"HTTP_ACCEPT_LANGUAGE": headers.get("accept-language", "")})
    return translation.get_language_from_request(request)

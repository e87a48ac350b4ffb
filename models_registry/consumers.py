"""The cluster websocket: staff watch nodes and replicas change, pulls progress included."""
import asyncio
import contextlib
import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from chat.payloads import CLOSE_NOT_LOGGED_IN
from models_registry.payloads import CLOSE_NOT_STAFF, ClusterEvent
from models_registry.selectors import cluster_snapshot

logger = logging.getLogger(__name__)

# Workers refresh pull progress twice a second; once a second keeps a bar moving smoothly
# without one snapshot query per progress write.
SNAPSHOT_INTERVAL_SECONDS = 1.0


class ClusterConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.refuse(CLOSE_NOT_LOGGED_IN)
            return
        if not user.is_staff:
            await self.refuse(CLOSE_NOT_STAFF)
            return
        await self.accept()
        self.watch = asyncio.create_task(self.snapshots_send())

    async def refuse(self, code: int) -> None:
        # Accepting first lets the page tell "log in again" from "not for you" (a close
        # before accepting reaches the browser as a bare failed handshake).
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        watch = getattr(self, "watch", None)
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        """The socket only speaks; what the page sends is ignored."""

    async def snapshots_send(self) -> None:
        """The snapshot now, then again each time it differs from the last one sent."""
        sent = None
        try:
            while True:
                snapshot = await database_sync_to_async(cluster_snapshot)()
                text = json.dumps(snapshot, sort_keys=True)
                if text != sent:
                    await self.send_json(ClusterEvent(type="cluster", **snapshot))
                    sent = text
                await asyncio.sleep(SNAPSHOT_INTERVAL_SECONDS)
        except asyncio.CancelledError:
            raise
        except Exception:
            # The page reconnects after a close; a silent dead loop would freeze it instead.
            logger.exception("cluster snapshot failed")
            await self.close()

from django.urls import path

from chat.consumers import ChatConsumer
from models_registry.consumers import ClusterConsumer

websocket_urlpatterns = [
    path("ws/chat/<int:conversation_id>/", ChatConsumer.as_asgi()),
    path("ws/cluster/", ClusterConsumer.as_asgi()),
]

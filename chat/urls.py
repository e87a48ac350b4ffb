from django.urls import path

from chat import views

app_name = "chat"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.conversation_new, name="new"),
    path("c/<int:conversation_id>/", views.conversation_detail, name="conversation"),
    path("c/<int:conversation_id>/rename/", views.conversation_rename, name="rename"),
    path("c/<int:conversation_id>/delete/", views.conversation_delete, name="delete"),
    path("c/<int:conversation_id>/export.md", views.conversation_export_markdown,
         name="export_markdown"),
    path("c/<int:conversation_id>/export.json", views.conversation_export_json,
         name="export_json"),
]

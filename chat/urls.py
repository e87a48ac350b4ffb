from django.urls import path

from chat import compare_views, share_views, views

app_name = "chat"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.conversation_new, name="new"),
    path("c/<int:conversation_id>/", views.conversation_detail, name="conversation"),
    path("c/<int:conversation_id>/rename/", views.conversation_rename, name="rename"),
    path("c/<int:conversation_id>/settings/", views.conversation_settings, name="settings"),
    path("c/<int:conversation_id>/delete/", views.conversation_delete, name="delete"),
    path("c/<int:conversation_id>/export.md", views.conversation_export_markdown,
         name="export_markdown"),
    path("c/<int:conversation_id>/export.json", views.conversation_export_json,
         name="export_json"),
    path("c/<int:conversation_id>/m/<int:message_id>/tokens.json", views.message_tokens,
         name="message_tokens"),
    path("c/<int:conversation_id>/share/", share_views.share_create, name="share_create"),
    path("c/<int:conversation_id>/share/revoke/", share_views.share_revoke,
         name="share_revoke"),
    path("s/<str:token>/", share_views.shared_conversation, name="shared"),
    path("compare/", compare_views.compare_new, name="compare_new"),
    path("compare/<int:comparison_id>/", compare_views.compare_detail, name="compare"),
]

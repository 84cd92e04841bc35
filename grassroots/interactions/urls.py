from django.urls import URLPattern, URLResolver, path

from grassroots.interactions import views

app_name = "interactions"

urlpatterns: list[URLPattern | URLResolver] = [
    path("notes/<int:note_id>/like/", views.like, name="like"),
    path("notes/<int:note_id>/unlike/", views.unlike, name="unlike"),
    path("notes/<int:note_id>/collect/", views.collect, name="collect"),
    path("notes/<int:note_id>/uncollect/", views.uncollect, name="uncollect"),
    path("notes/<int:note_id>/comments/", views.comments, name="comments"),
    path("notes/<int:note_id>/comment/", views.comment, name="comment"),
    path("comments/<int:comment_id>/reply/", views.reply, name="reply"),
    path("comments/<int:comment_id>/replies/", views.replies, name="replies"),
    path("comments/<int:comment_id>/delete/", views.comment_delete, name="comment_delete"),
    path("collections/", views.collections, name="collections"),
    path("collections/<int:collection_id>/", views.collection, name="collection"),
    path("collections/<int:collection_id>/rename/", views.collection_rename, name="collection_rename"),
    path("collections/<int:collection_id>/delete/", views.collection_delete, name="collection_delete"),
    path(
        "collections/<int:collection_id>/items/<int:note_id>/remove/",
        views.collection_item_remove,
        name="collection_item_remove",
    ),
]

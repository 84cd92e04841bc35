from django.urls import URLPattern, URLResolver, path

from grassroots.notes import views

app_name = "notes"

urlpatterns: list[URLPattern | URLResolver] = [
    path("new/", views.compose, name="compose"),
    path("drafts/", views.drafts, name="drafts"),
    path("products/", views.product_search, name="product_search"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/publish/", views.publish, name="publish"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("<int:pk>/share/", views.share, name="share"),
]

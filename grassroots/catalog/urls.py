from django.urls import URLPattern, URLResolver, path

from grassroots.catalog import console_views, views

app_name = "catalog"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.home, name="home"),
    path("search/", views.home, name="search"),
    path("c/<slug:slug>/", views.category_detail, name="category"),
    # str, not slug: /p/<id>/ also resolves and redirects to the slug.
    path("p/<str:slug>/", views.product_detail, name="product"),
    *console_views.urlpatterns,
]

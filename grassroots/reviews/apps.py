from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "grassroots.reviews"
    label = "reviews"

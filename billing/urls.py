from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("", views.account_list, name="account_list"),
    path("accounts/<int:account_id>/", views.account_overview, name="account_overview"),
]

from django.urls import path

from invoices import views

app_name = "invoices"

urlpatterns = [
    path("<int:invoice_id>/proof/", views.proof, name="proof"),
    path("allowances/<int:allowance_id>/proof/", views.allowance_proof, name="allowance_proof"),
]

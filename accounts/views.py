"""Pages about the person rather than an account: the language they read."""

from django.utils.translation import check_for_language
from django.views.i18n import set_language

from accounts.models import UserPreference


def language_switch(request):
    """Django's set_language, which also keeps the choice for the e-mails we send this person."""
    response = set_language(request)
    language = request.POST.get("language", "")
    if request.method == "POST" and request.user.is_authenticated and check_for_language(language):
        UserPreference.objects.update_or_create(user=request.user, defaults={"language": language})
    return response

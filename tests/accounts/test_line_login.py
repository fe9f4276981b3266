"""以LINE登入 through django-allauth's LINE provider, beside Django's username/password log-in.

LINE itself is faked at the HTTP level: a small server on 127.0.0.1 plays the authorize step (it hands out
a code for the query allauth sent to LINE), the token endpoint and the profile endpoint, and checks what
allauth sends it. Nothing of ours is mocked; allauth's adapter is only pointed at the fake server.
"""

import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from allauth.socialaccount.models import SocialAccount
from allauth.socialaccount.providers.line.views import LineOAuth2Adapter
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.factories import MembershipFactory, SubscriptionFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]
CHANNEL_ID = "1650000000"
CHANNEL_SECRET = "fake-line-login-channel-secret"
LINE_USER_ID = "U4af4980629f3e4e3b5c4f1f1f1f1f1f1"
LINE_AUTHORIZE_URL = "https://access.line.me/oauth2/v2.1/authorize"
CALLBACK_PATH = "/auth/line/login/callback/"

User = get_user_model()


class FakeLine:
    """LINE Login's authorize, token and profile endpoints, with LINE's checks of what a client sends."""

    def __init__(self):
        self.codes = {}  # code -> the authorize query it was issued for
        self.tokens = {}  # access token -> LINE user id
        self.token_requests = []
        self.profile_requests = []
        self.errors = []
        self.user_id = LINE_USER_ID
        self.display_name = "王小明"
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urlsplit(self.path)
                if url.path == "/oauth2/v2.1/authorize":
                    fake.authorize(self, parse_qs(url.query))
                elif url.path == "/v2/profile":
                    fake.profile(self)
                else:
                    fake.answer(self, 404, {"message": "Not found"})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if self.path == "/oauth2/v2.1/token":
                    fake.token(self, parse_qs(body))
                else:
                    fake.answer(self, 404, {"message": "Not found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    @staticmethod
    def answer(handler, status, payload=None, headers=None):
        body = json.dumps(payload).encode() if payload is not None else b""
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        if payload is not None:
            handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def refuse(self, handler, message):
        self.errors.append(message)
        self.answer(handler, 400, {"error": "invalid_request", "error_description": message})

    def authorize(self, handler, query):
        """The user agrees on LINE's consent screen: back to redirect_uri with a code and the same state."""
        query = {key: values[0] for key, values in query.items()}
        if query.get("client_id") != CHANNEL_ID or query.get("response_type") != "code":
            return self.refuse(handler, f"bad authorize query {query}")
        code = secrets.token_urlsafe(12)
        self.codes[code] = query
        back = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        self.answer(handler, 302, headers={"Location": back})

    def token(self, handler, form):
        """POST /oauth2/v2.1/token: exchange a code, as LINE does, checking the channel and PKCE."""
        form = {key: values[0] for key, values in form.items()}
        self.token_requests.append(form)
        issued = self.codes.pop(form.get("code"), None)
        if issued is None:
            return self.refuse(handler, "unknown or reused code")
        if form.get("grant_type") != "authorization_code":
            return self.refuse(handler, "grant_type")
        if (form.get("client_id"), form.get("client_secret")) != (CHANNEL_ID, CHANNEL_SECRET):
            return self.refuse(handler, "channel id/secret")
        if form.get("redirect_uri") != issued["redirect_uri"]:
            return self.refuse(handler, "redirect_uri differs from the authorize request's")
        if issued.get("code_challenge_method") != "S256":
            return self.refuse(handler, "no PKCE")
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != issued.get("code_challenge"):
            return self.refuse(handler, "code_verifier does not match code_challenge")
        access_token = secrets.token_urlsafe(24)
        self.tokens[access_token] = self.user_id
        self.answer(
            handler,
            200,
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "refresh_token": secrets.token_urlsafe(16),
                "expires_in": 2592000,
                "scope": "profile openid",
                "id_token": "header.payload.signature",  # not used: without the email scope allauth asks /v2/profile
            },
        )

    def profile(self, handler):
        """GET /v2/profile with `Authorization: Bearer <access token>`."""
        authorization = handler.headers.get("Authorization", "")
        self.profile_requests.append(authorization)
        scheme, _, access_token = authorization.partition(" ")
        if scheme != "Bearer" or access_token not in self.tokens:
            self.errors.append(f"bad Authorization header {authorization!r}")
            return self.answer(handler, 401, {"message": "invalid token"})
        self.answer(
            handler,
            200,
            {
                "userId": self.tokens[access_token],
                "displayName": self.display_name,
                "pictureUrl": "https://profile.line-scdn.net/0hfake",
                "statusMessage": "你好",
            },
        )

    def consent(self, authorize_url):
        """What the browser does at LINE: the fake's authorize endpoint answers with the callback URL."""

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        query = urlsplit(authorize_url).query
        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(f"{self.url}/oauth2/v2.1/authorize?{query}", timeout=5)
        except urllib.error.HTTPError as redirect:
            assert redirect.code == 302, redirect.read()
            return redirect.headers["Location"]
        raise AssertionError("the fake authorize endpoint did not redirect")


@pytest.fixture
def line_configured(settings):
    settings.SOCIALACCOUNT_PROVIDERS = {
        "line": {
            "SCOPE": ["profile", "openid"],
            "OAUTH_PKCE_ENABLED": True,
            "APP": {"client_id": CHANNEL_ID, "secret": CHANNEL_SECRET},
        }
    }


@pytest.fixture
def line_not_configured(settings):
    settings.SOCIALACCOUNT_PROVIDERS = {"line": {"SCOPE": ["profile", "openid"], "OAUTH_PKCE_ENABLED": True}}


@pytest.fixture
def fake_line(monkeypatch, line_configured):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with FakeLine() as fake:
        # Token exchange and profile go to the fake; the authorize URL stays LINE's (the browser goes there).
        monkeypatch.setattr(LineOAuth2Adapter, "access_token_url", f"{fake.url}/oauth2/v2.1/token")
        monkeypatch.setattr(LineOAuth2Adapter, "profile_url", f"{fake.url}/v2/profile")
        monkeypatch.setattr(LineOAuth2Adapter, "id_token_url", f"{fake.url}/oauth2/v2.1/verify")
        yield fake


def start(client, **data):
    """The 「以LINE登入」 button: a POST to allauth's LINE login URL, answered by a redirect to LINE."""
    response = client.post(reverse("line_login"), data)
    assert response.status_code == 302
    return response["Location"]


def log_in_with_line(client, fake, **data):
    authorize_url = start(client, **data)
    callback = urlsplit(fake.consent(authorize_url))
    assert callback.path == CALLBACK_PATH
    return client.get(callback.path, {k: v[0] for k, v in parse_qs(callback.query).items()}, secure=True)


def logged_in_user(client):
    return client.get(reverse("billing:account_list")).wsgi_request.user


# ---- the log-in page --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_login_page_offers_line_when_it_is_configured(client, line_configured):
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="line-login"' in page
    assert "Log in with LINE" in page
    # A POST form to allauth's LINE login URL, with the CSRF token; the username/password form is still there.
    assert f'<form method="post" action="{reverse("line_login")}"><input type="hidden" name="csrfmiddlewaretoken"' in (
        page
    )
    assert reverse("line_login") == "/auth/line/login/"
    assert 'name="password"' in page and 'data-testid="login"' in page


@pytest.mark.django_db
def test_without_line_credentials_there_is_no_button_and_no_line_login(client, line_not_configured):
    page = client.get(reverse("login")).content.decode()
    assert 'data-testid="line-login"' not in page
    assert "/auth/line/" not in page
    assert 'data-testid="login"' in page
    assert client.post(reverse("line_login")).status_code == 404
    assert client.get(CALLBACK_PATH, {"code": "x", "state": "y"}).status_code == 404
    assert not User.objects.exists()


# ---- the LINE flow, against the fake LINE ---------------------------------------------------------


@pytest.mark.django_db
def test_the_button_redirects_to_line_with_the_channel_callback_state_and_scopes(client, fake_line):
    authorize_url = start(client)
    url = urlsplit(authorize_url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == LINE_AUTHORIZE_URL
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert query["client_id"] == CHANNEL_ID
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == f"https://testserver{CALLBACK_PATH}"
    assert set(query["scope"].split(" ")) == {"profile", "openid"}
    assert query["code_challenge_method"] == "S256" and query["code_challenge"]
    # The state is the one allauth keeps in the session for the callback.
    assert query["state"] in client.session["socialaccount_states"]
    assert fake_line.token_requests == []  # nothing is exchanged before LINE calls back


@pytest.mark.django_db
def test_a_first_line_login_creates_a_user_with_no_accounts_and_logs_them_in(client, fake_line):
    response = log_in_with_line(client, fake_line)

    assert fake_line.errors == []
    assert response.status_code == 302
    assert response["Location"] == reverse("billing:account_list")
    # The code was exchanged once, with the channel's credentials, then the profile was read with the token.
    assert len(fake_line.token_requests) == 1
    assert fake_line.token_requests[0]["client_id"] == CHANNEL_ID
    assert len(fake_line.profile_requests) == 1 and fake_line.profile_requests[0].startswith("Bearer ")

    social = SocialAccount.objects.get(provider="line", uid=LINE_USER_ID)
    user = social.user
    assert social.extra_data["displayName"] == "王小明"
    assert user.first_name == "王小明"
    assert not user.has_usable_password()
    assert not user.is_staff and not user.is_superuser

    chooser = client.get(response["Location"])
    assert chooser.status_code == 200
    assert chooser.wsgi_request.user == user
    assert list(chooser.context["memberships"]) == []
    page = chooser.content.decode()
    assert "您尚未成為任何官方帳號的成員。" in page
    # allauth's "signed in as" message names them by their LINE display name, not their LINE user id.
    assert "王小明" in page and LINE_USER_ID not in page


@pytest.mark.django_db
def test_a_second_line_login_is_the_same_user_who_sees_the_accounts_staff_gave_them(client, fake_line):
    log_in_with_line(client, fake_line)
    user = SocialAccount.objects.get(uid=LINE_USER_ID).user
    membership = MembershipFactory(user=user)
    SubscriptionFactory(account=membership.account)
    client.logout()

    response = log_in_with_line(client, fake_line)

    assert fake_line.errors == []
    assert response.status_code == 302 and response["Location"] == reverse("billing:account_list")
    assert User.objects.count() == 1
    assert SocialAccount.objects.count() == 1
    assert logged_in_user(client) == user
    assert [m.account for m in client.get(reverse("billing:account_list")).context["memberships"]] == [
        membership.account
    ]


@pytest.mark.django_db
def test_another_line_user_gets_their_own_user(client, fake_line):
    log_in_with_line(client, fake_line)
    client.logout()
    fake_line.user_id, fake_line.display_name = "U0000000000000000000000000000beef", "陳小美"

    log_in_with_line(client, fake_line)

    assert fake_line.errors == []
    assert SocialAccount.objects.count() == 2
    assert logged_in_user(client).first_name == "陳小美"


@pytest.mark.django_db
def test_a_safe_next_is_kept_through_line(client, fake_line):
    response = log_in_with_line(client, fake_line, next="/accounts/42/")
    assert response.status_code == 302 and response["Location"] == "/accounts/42/"


@pytest.mark.django_db
def test_a_callback_with_a_wrong_state_is_refused(client, fake_line):
    authorize_url = start(client)
    callback = urlsplit(fake_line.consent(authorize_url))
    code = parse_qs(callback.query)["code"][0]

    response = client.get(CALLBACK_PATH, {"code": code, "state": "forged-state-1234"}, secure=True)

    assert response.status_code == 401  # allauth's "Third-Party Login Failure" page
    assert "socialaccount/authentication_error.html" in [t.name for t in response.templates]
    assert fake_line.token_requests == []  # the code was never exchanged
    assert not User.objects.exists() and not SocialAccount.objects.exists()
    assert not logged_in_user(client).is_authenticated


@pytest.mark.django_db
def test_a_callback_without_a_login_started_in_this_browser_is_refused(client, fake_line):
    other = type(client)()
    authorize_url = start(other)  # the state lives in another browser's session
    callback = urlsplit(fake_line.consent(authorize_url))

    response = client.get(callback.path, {k: v[0] for k, v in parse_qs(callback.query).items()}, secure=True)

    assert response.status_code == 401
    assert "socialaccount/authentication_error.html" in [t.name for t in response.templates]
    assert fake_line.token_requests == []
    assert not User.objects.exists()


@pytest.mark.django_db
def test_a_code_line_refuses_logs_nobody_in(client, fake_line):
    authorize_url = start(client)
    state = parse_qs(urlsplit(authorize_url).query)["state"][0]

    response = client.get(CALLBACK_PATH, {"code": "not-issued-by-line", "state": state}, secure=True)

    assert response.status_code == 401
    assert "socialaccount/authentication_error.html" in [t.name for t in response.templates]
    assert len(fake_line.token_requests) == 1 and fake_line.profile_requests == []
    assert not User.objects.exists()


@pytest.mark.django_db
def test_the_provider_login_is_post_only(client, fake_line):
    """A GET (e.g. a link on another site) only shows allauth's confirmation page; it starts nothing."""
    response = client.get(reverse("line_login"))
    assert response.status_code == 200
    assert "socialaccount_states" not in client.session


# ---- what allauth must not change -------------------------------------------------------------------


@pytest.mark.django_db
def test_username_and_password_login_still_works(client, line_configured):
    user = UserFactory(username="staff-amy")
    response = client.post(reverse("login"), {"username": "staff-amy", "password": "pass-for-tests-1"})
    assert response.status_code == 302
    assert response["Location"] == reverse("billing:account_list")
    assert logged_in_user(client) == user


@pytest.mark.django_db
def test_a_wrong_password_is_still_refused(client, line_configured):
    UserFactory(username="staff-amy")
    response = client.post(reverse("login"), {"username": "staff-amy", "password": "wrong"})
    assert response.status_code == 200
    assert not logged_in_user(client).is_authenticated


@pytest.mark.django_db
def test_the_admin_login_still_works(client, line_configured):
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    response = client.post(
        reverse("admin:login"), {"username": "boss", "password": "pass-for-tests-1", "next": reverse("admin:index")}
    )
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    assert client.get(reverse("admin:index")).status_code == 200


@pytest.mark.django_db
def test_nobody_can_sign_up_with_an_email_and_a_password(client, line_configured):
    assert client.get("/auth/signup/").status_code == 404
    signup = {"username": "x", "password1": "Long-pass-123", "password2": "Long-pass-123"}
    assert client.post("/auth/signup/", signup).status_code == 404
    assert client.post("/auth/login/", {"login": "x", "password": "y"}).status_code == 403
    assert not User.objects.exists()


# ---- the settings read the channel from the environment ---------------------------------------------


def line_app_from_settings(**env):
    environment = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    environment.update(DJANGO_SETTINGS_MODULE="config.test_settings", **env)
    code = "import django, json; django.setup(); from django.conf import settings; " + (
        "print(json.dumps(settings.SOCIALACCOUNT_PROVIDERS['line'].get('APP')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_line_app_comes_from_the_environment():
    app = line_app_from_settings(LINE_LOGIN_CHANNEL_ID=CHANNEL_ID, LINE_LOGIN_CHANNEL_SECRET=CHANNEL_SECRET)
    assert app == {"client_id": CHANNEL_ID, "secret": CHANNEL_SECRET}


@pytest.mark.parametrize(
    "env", [{"LINE_LOGIN_CHANNEL_ID": "", "LINE_LOGIN_CHANNEL_SECRET": ""}, {"LINE_LOGIN_CHANNEL_ID": CHANNEL_ID}]
)
def test_without_both_variables_there_is_no_line_app(env):
    env = {"LINE_LOGIN_CHANNEL_ID": "", "LINE_LOGIN_CHANNEL_SECRET": "", **env}
    assert line_app_from_settings(**env) is None

"""Production settings pass Django's deployment checklist, and refuse to start without a secret or a seller."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SELLER = {
    "SELLER_UBN": "04595252",
    "SELLER_NAME": "真實數位股份有限公司",
    "SELLER_ADDRESS": "臺中市西屯區台灣大道三段99號",
}
DEMO_SELLER = ["22099131", "示範數位服務股份有限公司", "臺北市信義區市府路1號"]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "p" * 20 + "-production-like-secret-" + "q" * 30,
    "MESSAGING_TOKEN_KEY": "cHJvZHVjdGlvbi1saWtlLXRva2VuLWtleS0zMi1ieXQ=",
}
PRINT_SELLER = (
    "from django.conf import settings; print(settings.SELLER_UBN, settings.SELLER_NAME, settings.SELLER_ADDRESS)"
)


def run_manage(*args, **env):
    # The production process has none of the test run's own variables (browser tests allow async ORM calls;
    # config.test_settings puts the demo seller in this process's environment).
    test_only = (
        "DEBUG",
        "SECRET_KEY",
        "DJANGO_SETTINGS_MODULE",
        "SECURE_SSL_REDIRECT",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
        "SELLER_UBN",
        "SELLER_NAME",
        "SELLER_ADDRESS",
        "MESSAGING_TOKEN_KEY",
    )
    environment = {k: v for k, v in os.environ.items() if k not in test_only}
    environment.update(DJANGO_SETTINGS_MODULE="config.settings", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, check=False
    )


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        ALLOWED_HOSTS="billing.example.tw",
        **PRODUCTION,
        **SELLER,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_settings_refuse_to_start_without_a_secret_key():
    result = run_manage("check", DEBUG="false", SECRET_KEY="")
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr


# An empty value stands for a missing one below: the settings treat both alike, and an empty variable in the
# environment keeps a developer's own .env from filling the gap.


@pytest.mark.parametrize("missing", sorted(SELLER))
def test_settings_with_debug_off_refuse_to_start_without_each_part_of_the_seller(missing):
    # given production settings with one part of the seller left out
    result = run_manage("check", **PRODUCTION, **{**SELLER, missing: ""})
    # then Django does not start, and says what to set
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"Set {missing} in the environment or in .env" in result.stderr


def test_settings_with_debug_off_name_every_missing_part_of_the_seller_at_once():
    result = run_manage("check", **PRODUCTION, SELLER_UBN="", SELLER_NAME=" ", SELLER_ADDRESS="")
    assert result.returncode != 0
    assert "Set SELLER_UBN, SELLER_NAME, SELLER_ADDRESS in the environment or in .env" in result.stderr


@pytest.mark.parametrize("debug", ["false", "true"], ids=["DEBUG off", "DEBUG on"])
@pytest.mark.parametrize("ubn", ["22099132", "1234567", "2209913A"], ids=["check digit", "7 digits", "a letter"])
def test_settings_refuse_a_seller_ubn_that_is_not_a_valid_ubn(ubn, debug):
    result = run_manage("check", **{**PRODUCTION, "DEBUG": debug}, **{**SELLER, "SELLER_UBN": ubn})
    assert result.returncode != 0
    assert f"SELLER_UBN={ubn!r} is not a valid 統一編號" in result.stderr


def test_settings_with_debug_off_start_with_the_seller_set():
    # given production settings with the whole seller
    result = run_manage("shell", "--no-imports", "-c", PRINT_SELLER, **PRODUCTION, **SELLER)
    # then Django starts, with the seller as given
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == list(SELLER.values())


def test_settings_with_debug_on_fall_back_to_the_demo_seller():
    # given development settings with no seller, as make run's .env has
    no_seller = dict.fromkeys(SELLER, "")
    result = run_manage("shell", "--no-imports", "-c", PRINT_SELLER, **{**PRODUCTION, "DEBUG": "true"}, **no_seller)
    # then Django starts with the demo company
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == DEMO_SELLER


def test_settings_with_debug_on_take_a_seller_that_is_set():
    result = run_manage("shell", "--no-imports", "-c", PRINT_SELLER, **{**PRODUCTION, "DEBUG": "true"}, **SELLER)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == list(SELLER.values())


def test_settings_load_no_models_while_checking_the_seller():
    # given the settings module, loaded on its own as Django does before the apps
    code = "import sys, config.settings; print(sorted(name for name in sys.modules if name.endswith('.models')))"
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**environment, **PRODUCTION, **SELLER},
        capture_output=True,
        text=True,
        check=False,
    )
    # then the seller's check (invoices.validators) brought in no models module, ours or Django's
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# ---- the key of the Messaging API channel tokens -------------------------------------------------------------

PRINT_TOKEN_KEYS = "from django.conf import settings; print(len(settings.MESSAGING_TOKEN_KEYS))"


def test_settings_with_debug_off_refuse_to_start_without_the_token_key():
    result = run_manage("check", **{**PRODUCTION, "MESSAGING_TOKEN_KEY": ""}, **SELLER)
    assert result.returncode != 0
    assert "Set MESSAGING_TOKEN_KEY in the environment or in .env" in result.stderr


@pytest.mark.parametrize("debug", ["false", "true"], ids=["DEBUG off", "DEBUG on"])
def test_settings_refuse_a_token_key_that_is_not_a_fernet_key(debug):
    result = run_manage("check", **{**PRODUCTION, "DEBUG": debug, "MESSAGING_TOKEN_KEY": "secret"}, **SELLER)
    assert result.returncode != 0
    assert "MESSAGING_TOKEN_KEY is not a Fernet key" in result.stderr


def test_settings_take_several_token_keys_to_rotate_them():
    keys = PRODUCTION["MESSAGING_TOKEN_KEY"] + ", dGhlLW9sZC1rZXktZm9yLXJvdGF0aW9uLW9ubHktMzI="
    result = run_manage(
        "shell", "--no-imports", "-c", PRINT_TOKEN_KEYS, **{**PRODUCTION, "MESSAGING_TOKEN_KEY": keys}, **SELLER
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"


def test_settings_with_debug_on_derive_a_token_key_from_the_secret_key():
    environment = {**PRODUCTION, "DEBUG": "true", "MESSAGING_TOKEN_KEY": ""}
    result = run_manage("shell", "--no-imports", "-c", PRINT_TOKEN_KEYS, **environment, **SELLER)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"

"""README's Configuration table and .env.example document what config/settings.py reads, with its defaults."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_SOURCE = (ROOT / "config" / "settings.py").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
ENV_EXAMPLE = (ROOT / ".env.example").read_text(encoding="utf-8")

# Lines of .env.example that are not a default: DATABASE_URL's shows a PostgreSQL URL as an example.
EXAMPLES_NOT_DEFAULTS = {"DATABASE_URL"}

# Prints every setting as JSON, from a fresh interpreter that reads the environment only (no .env file, so
# a developer's own .env cannot make two runs agree or differ).
DUMP_SETTINGS = """
import json, environ, django
environ.Env.read_env = classmethod(lambda cls, *args, **kwargs: None)
django.setup()
from config import settings
print(json.dumps({name: repr(getattr(settings, name)) for name in dir(settings) if name.isupper()}))
"""


def settings_variables() -> set[str]:
    """The environment variables config/settings.py reads (env("X"), env.str("X"), env.bool("X"), ...)."""
    return set(re.findall(r"\benv(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"", SETTINGS_SOURCE))


def readme_table_variables() -> set[str]:
    """The names in the first column of the README's Configuration table."""
    section = README.split("\n## Configuration\n", 1)[1].split("\n#", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {name for cell in rows for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", cell)}


def env_example_lines() -> dict[str, tuple[str, bool]]:
    """{name: (value, commented out)} for every `NAME=value` or `# NAME=value` line of .env.example."""
    lines = re.findall(r"^(# )?([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE, flags=re.MULTILINE)
    return {name: (value, bool(comment)) for comment, name, value in lines}


def dump_settings(environment: dict[str, str]) -> dict[str, str]:
    # The test run's own variables (DEBUG, the seller, DATABASE_URL of a PostgreSQL pass...) stay out.
    inherited = {k: v for k, v in os.environ.items() if k not in settings_variables() | {"DJANGO_SETTINGS_MODULE"}}
    result = subprocess.run(
        [sys.executable, "-c", DUMP_SETTINGS],
        cwd=ROOT,
        env={**inherited, "DJANGO_SETTINGS_MODULE": "config.settings", **environment},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_the_settings_scan_finds_the_variables_read_in_each_way():
    # given the source of config/settings.py
    # when its environment variables are listed
    variables = settings_variables()
    # then each way of reading one (env.str, env.bool, env.int, env.float, env.list, env.db) is seen
    assert {"SECRET_KEY", "DEBUG", "CONN_MAX_AGE", "GATEWAY_TIMEOUT_SECONDS", "ALLOWED_HOSTS", "DATABASE_URL"} <= (
        variables
    )
    assert len(variables) == 50


def test_every_variable_the_settings_read_is_in_the_readme_table():
    assert settings_variables() - readme_table_variables() == set()


def test_every_variable_of_the_readme_table_is_in_env_example():
    assert (readme_table_variables() | settings_variables()) - set(env_example_lines()) == set()


def test_names_documented_but_not_read_by_the_settings_are_read_by_make_test():
    # given the names of the README table and .env.example that config/settings.py does not read
    extra = (readme_table_variables() | set(env_example_lines())) - settings_variables()
    # then each is one of the test run's switches, read by the Makefile or by the suite's conftest
    readers = (ROOT / "Makefile").read_text(encoding="utf-8") + (ROOT / "tests" / "conftest.py").read_text()
    assert extra == {"TEST_DATABASE_URL", "REQUIRE_POSTGRES"}
    assert all(name in readers for name in extra)


def test_env_example_sets_only_what_make_run_needs():
    # given the lines of .env.example that are not commented out
    active = {name for name, (_value, commented) in env_example_lines().items() if not commented}
    # then they are the two make run relies on: DEBUG on, and the SECRET_KEY line its sed fills in
    assert active == {"DEBUG", "SECRET_KEY"}
    assert env_example_lines()["DEBUG"] == ("true", False)


@pytest.mark.parametrize("debug", ["true", "false"], ids=["DEBUG on", "DEBUG off"])
def test_the_commented_out_values_of_env_example_are_the_settings_defaults(debug):
    # given the values .env.example shows, commented out, for the variables the settings read
    shown = {
        name: value
        for name, (value, commented) in env_example_lines().items()
        if commented and name in settings_variables() and name not in EXAMPLES_NOT_DEFAULTS
    }
    base = {"SECRET_KEY": "a-key-for-this-test-only", "DEBUG": debug}
    if debug == "false":  # the seller is then required: both runs get the one shown (the demo company)
        base |= {name: value for name, value in shown.items() if name.startswith("SELLER_")}
        # and the tokens' key, which has no default then (.env.example shows it empty): both runs get one
        assert shown.pop("MESSAGING_TOKEN_KEY") == ""
        base["MESSAGING_TOKEN_KEY"] = "dGhlLWtleS1vZi10aGlzLXRlc3Qtb25seS0zMmJ5dGU="
    # when the settings load once with those values set and once with none of them
    with_values = dump_settings({**base, **shown})
    with_defaults = dump_settings(base)
    # then no setting differs: each value shown is the default
    differing = {name for name in with_values if with_values[name] != with_defaults.get(name)}
    assert differing == set()
    assert len(shown) == (47 if debug == "true" else 46)

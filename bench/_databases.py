"""The PostgreSQL server the benchmarks create their databases on, shared by the scripts in bench/.

The scripts run as `.venv/bin/python bench/<script>.py`, so this directory is on sys.path and they import this
module as `_databases`. It loads neither Django nor psycopg until asked (bench/renewals.py's parent process
never loads Django).
"""


def server_connection(url: str):
    """An autocommit connection to the "postgres" database of the server of `url` (a database cannot be created
    or dropped from inside itself), and the name of `url`'s own database."""
    import environ
    import psycopg

    config = environ.Env.db_url_config(url)
    connection = psycopg.connect(
        host=config.get("HOST") or "127.0.0.1",
        port=config.get("PORT") or 5432,
        user=config.get("USER"),
        password=config.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    )
    return connection, config["NAME"]


def create_database(url: str) -> None:
    """Create `url`'s database; stop if it exists already (a leftover of an interrupted run)."""
    import sys

    connection, name = server_connection(url)
    with connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            sys.exit(f"database {name} already exists (left by an interrupted run?); drop it first: dropdb {name}")
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    connection, name = server_connection(url)
    with connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

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
        host=config.get("HOST") or "127.0.0.1", port=config.get("PORT") or 5432, user=config.get("USER"),
        password=config.get("PASSWORD") or None, dbname="postgres", autocommit=True,
    )  # fmt: skip
    return connection, config["NAME"]

"""Exit 0 when the PostgreSQL server of TEST_DATABASE_URL answers; else print why and exit 1."""

import sys

import environ
import psycopg

url = sys.argv[1]
config = environ.Env.db_url_config(url)
try:
    psycopg.connect(
        host=config.get("HOST") or "127.0.0.1",
        port=config.get("PORT") or 5432,
        user=config.get("USER") or "postgres",
        password=config.get("PASSWORD") or None,
        dbname="postgres",
        connect_timeout=3,
    ).close()
except psycopg.Error as error:
    print(f"PostgreSQL at {url} is not reachable: {str(error).strip()}")
    sys.exit(1)

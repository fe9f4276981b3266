"""Writing many rows at once, for the services that settle a batch (the monthly renewals).

Django's `bulk_update` builds one CASE expression per field and row; for hundreds of rows that costs
more Python time than the database spends. `update_rows` sends one plain UPDATE per row instead,
through the driver's `executemany` (pipelined by psycopg 3: one round trip for the lot).
"""

from django.db import connection, models


def update_rows(objs: list[models.Model], fields: list[str]) -> None:
    """Save `fields` of each object (already changed in memory), as `save(update_fields=...)` would.

    `auto_now` fields among them take the current time, as on save(); no signals are sent.
    """
    if not objs:
        return
    meta = objs[0]._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    # Names come from the model's own metadata; every value is a parameter.
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in columns)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    rows = [
        [field.get_db_prep_save(field.pre_save(obj, add=False), connection) for field in columns] + [obj.pk]
        for obj in objs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def insert_rows(objs: list[models.Model]) -> None:
    """Insert rows that nothing points to, without reading their keys back (audit records).

    On PostgreSQL by COPY: `bulk_create` sends each column as one array, and psycopg escapes every
    JSON value in it one by one in Python, which for audit records' JSON costs more than the insert.
    """
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs)
        return
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    with (
        connection.wrap_database_errors,  # psycopg's errors as Django's (IntegrityError…), as bulk_create's are
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy,
    ):
        for obj in objs:
            copy.write_row([field.get_db_prep_save(field.pre_save(obj, add=True), connection) for field in fields])

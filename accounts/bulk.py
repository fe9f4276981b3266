"""Writing many rows at once, for the services that settle a batch (the monthly renewals).

Django's `bulk_update` builds one CASE expression per field and row; for hundreds of rows that costs
more Python time than the database spends. `update_rows` sends one plain UPDATE per row instead,
through the driver's `executemany` (pipelined by psycopg 3: one round trip for the lot; on PostgreSQL with the
values bound by the server). `create_rows` and
`insert_rows` write new rows by COPY, the fastest way into PostgreSQL, the first with their keys taken from
the table's sequence beforehand.

Each value is prepared for the database as `save()` would (`pre_save`, then `get_db_prep_save`), except where
that is known to give back the value itself: in a column of Django's own integer, boolean, character or text
field (or a foreign key to an integer key), None or a value of exactly int, bool or str (not a subclass, so no
choices member and no lazy translation); on PostgreSQL, likewise a date in a date column and an aware datetime in a
datetime column that `pre_save` does not set.
"""

from datetime import date, datetime

from django.db import connection, connections, models

try:
    import psycopg
except ImportError:  # SQLite only
    psycopg = None

# Django's own field classes (not subclasses, which may prepare values their own way, e.g. encrypt them), and
# the one type of value each gives back unchanged.
INTEGER_FIELDS = (
    models.AutoField,
    models.BigAutoField,
    models.SmallAutoField,
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
    models.PositiveSmallIntegerField,
)
PLAIN_TYPE = {kind: int for kind in INTEGER_FIELDS} | {
    models.BooleanField: bool,
    models.CharField: str,
    models.TextField: str,
}


def _plain_type(field, *, add: bool) -> type | None:
    """The type of value `field` gives the database unchanged, or None when every value is prepared in full.

    A date or an aware datetime goes to PostgreSQL as it is, unless `pre_save` sets it (auto_now, auto_now_add).
    """
    if type(field) is models.ForeignKey:
        return _plain_type(field.target_field, add=add)
    if type(field) in (models.DateField, models.DateTimeField) and connection.vendor == "postgresql":
        if field.auto_now or (field.auto_now_add and add):
            return None
        return date if type(field) is models.DateField else datetime
    return PLAIN_TYPE.get(type(field))


def _preparers(fields: list, *, add: bool) -> list:
    """For each field, a function of an object giving its value for the database."""

    database = connections[connection.alias]  # the connection itself: no proxy look-up per value

    def full(field):
        return lambda obj: field.get_db_prep_save(field.pre_save(obj, add=add), database)

    def plain(field, kind: type):
        attname, prepare = field.attname, full(field)

        def value(obj):
            found = getattr(obj, attname)
            if found is None or (type(found) is kind and (kind is not datetime or found.tzinfo is not None)):
                return found
            return prepare(obj)

        return value

    return [plain(field, kind) if (kind := _plain_type(field, add=add)) else full(field) for field in fields]


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
    preparers = _preparers(columns, add=False)
    rows = [[prepare(obj) for prepare in preparers] + [obj.pk] for obj in objs]
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)
        return
    # On PostgreSQL the values are bound by the server: the statement is parsed once and, repeated, prepared;
    # Django's cursors would quote every value into the SQL text, in Python, row by row.
    connection.ensure_connection()
    server_bound = psycopg.Cursor(connection.connection)
    # in Django's wrapper all the same: its errors, execute_wrapper hooks and, with DEBUG, the query log
    make = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    with make(server_bound) as cursor:
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
    _copy(model, [field for field in model._meta.concrete_fields if not field.primary_key], objs)


def create_rows(objs: list[models.Model]) -> list[models.Model]:
    """`bulk_create(objs)` for new rows of one model with an auto key: on PostgreSQL, their keys are taken from
    the table's sequence in one query and the rows are written by COPY. Returns `objs`, saved."""
    if not objs:
        return objs
    model = type(objs[0])
    if connection.vendor != "postgresql":
        return model.objects.bulk_create(objs)
    meta = model._meta
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="create_rows")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [connection.ops.quote_name(meta.db_table), meta.pk.column, len(objs)],
        )
        keys = sorted(row[0] for row in cursor.fetchall())
    for obj, key in zip(objs, keys, strict=True):
        obj.pk = key
    _copy(model, list(meta.concrete_fields), objs)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs


def _copy(model, fields: list, objs: list[models.Model]) -> None:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    preparers = _preparers(fields, add=True)
    with (
        connection.wrap_database_errors,  # psycopg's errors as Django's (IntegrityError…), as bulk_create's are
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy,
    ):
        for obj in objs:
            copy.write_row([prepare(obj) for prepare in preparers])

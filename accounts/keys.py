"""Whether text from a request can be a row's key: parsed by the key's own field, and inside the database's range.

Django's integer lookups skip a value past 64 bits for `pk=` but not everywhere (a foreign key's `_id`, `__in`):
SQLite then raises OverflowError, a 500. A key no row can have is simply not looked up.
"""

from django.core.exceptions import ValidationError
from django.db import connection


def storable_key(field, value) -> bool:
    """Whether `value` (text from a form or URL) can be looked up in `field` (a primary key or the field a foreign
    key points to)."""
    try:
        key = field.to_python(value)
    except (ValidationError, ValueError, TypeError):
        return False
    if key is None or key == "":
        return False
    if isinstance(key, int):
        low, high = connection.ops.integer_field_range(field.get_internal_type())
        return (low is None or key >= low) and (high is None or key <= high)
    return True

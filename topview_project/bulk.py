"""Updating many rows, each with values of its own, in one statement.

Django's `bulk_update` writes a CASE WHEN per field and row, and building those expressions
cost more CPU than everything else a worker does with a batch of notices (profiled: about half
of it). On PostgreSQL, one UPDATE ... FROM (VALUES ...) does the same for a fraction; elsewhere
(SQLite, in development) Django's own is used.
"""

from collections.abc import Sequence

from django.db import connections, models, router


def bulk_update(objs: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Write `fields` of each of `objs` (all of one model) to its row; nothing else changes."""
    if not objs:
        return
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    if len(objs) == 1:
        objs[0].save(update_fields=fields)
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(objs, fields)
        return
    meta, quote = model._meta, connection.ops.quote_name
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    row = "(" + ", ".join(f"%s::{column.db_type(connection)}" for column in columns) + ")"
    params = []
    for obj in objs:
        params.append(meta.pk.get_db_prep_value(obj.pk, connection))
        params.extend(
            column.get_db_prep_save(getattr(obj, column.attname), connection)
            for column in columns[1:]
        )
    names = [quote(column.column) for column in columns]
    assignments = ", ".join(f"{name} = v.{name}" for name in names[1:])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "
            f"FROM (VALUES {', '.join([row] * len(objs))}) AS v({', '.join(names)}) "
            f"WHERE t.{names[0]} = v.{names[0]}",
            params,
        )

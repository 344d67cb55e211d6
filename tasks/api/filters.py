"""Filters of a user's task list (django-filter): each narrows rows the owner index finds."""

import django_filters

from tasks.models import Task
from tasks.status import TaskStatus
from tasks.topview_client import KINDS


class TaskFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=TaskStatus.choices)
    kind = django_filters.ChoiceFilter(choices=[(name, name) for name in sorted(KINDS)])
    biz_type = django_filters.CharFilter(help_text="Topview's bizType, exactly, e.g. M2V_EXPORT.")
    created_after = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="Created at or after (ISO 8601)."
    )
    created_before = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="Created before (ISO 8601)."
    )

    class Meta:
        model = Task
        fields = ["status", "kind", "biz_type", "created_after", "created_before"]

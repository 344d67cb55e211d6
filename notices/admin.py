"""Admin of the notice inbox: an audit trail to browse and replay, never to edit.

The table grows to millions of rows, so the list uses only indexed filters and exact searches,
never counts the whole table (see `pagination`), and leaves the heavy columns unread.
"""

import json
import re

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.utils.html import format_html

from tasks.admin import BizTypeFilter, ReadOnlyAdmin

from .models import Notice, Refusal, RefusalCount
from .pagination import EstimatedCountPaginator
from .services import notice_replay

HEAVY_FIELDS = ["raw_body", "payload", "headers"]
# More ids than this in one replay is a mistake (e.g. "select all" on the whole table).
REPLAY_LIMIT = 10_000
# Control characters other than tab and newlines would be invisible: show them as escapes.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class NoticeChangeList(ChangeList):
    """The list shows none of the heavy columns, so it does not read them."""

    def get_queryset(self, request, exclude_parameters=None):
        return super().get_queryset(request, exclude_parameters).defer(*HEAVY_FIELDS)


def _pre(text: str):
    return format_html('<pre style="white-space: pre-wrap; word-break: break-all">{}</pre>', text)


def _pretty_json(value, *, sort_keys=False) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=sort_keys)


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = [
        "received_at", "source", "format", "topview_task_id", "status", "task_status", "state",
        "attempts", "is_duplicate", "is_late", "is_test",
    ]
    list_filter = [
        "source", "format", "state", "task_status", BizTypeFilter, "verification", "received_at",
        "is_duplicate", "is_test",
    ]
    search_fields = ["topview_task_id__exact", "notice_uuid__exact"]
    search_help_text = "Exact taskId or notice uuid."
    sortable_by = ["received_at"]  # The only order an index serves for every filter.
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    actions = ["replay"]
    fieldsets = [
        (None, {"fields": [
            "received_at", "source", "remote_addr", "format", "error", "warnings", "notice_uuid",
            "topview_task_id", "biz_type", "status", "task_status", "task",
        ]}),
        ("Flags", {"fields": ["is_test", "is_duplicate", "is_late"]}),
        ("Verification", {"fields": ["verification", "verification_answer"]}),
        ("Processing", {"fields": [
            "state", "attempts", "last_error", "next_attempt_at", "processed_at",
        ]}),
        ("Delivery", {"fields": ["headers_display", "body_size", "body_display"]}),
    ]
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]

    def get_changelist(self, request, **kwargs):
        return NoticeChangeList

    def has_replay_permission(self, request):
        return request.user.has_perm(f"{self.opts.app_label}.replay_notice")

    @admin.display(description="headers")
    def headers_display(self, notice):
        return _pre(_pretty_json(notice.headers, sort_keys=True))

    @admin.display(description="body")
    def body_display(self, notice):
        """The bytes as received beside the JSON as parsed: what was sent and what we read."""
        raw = bytes(notice.raw_body)
        text = raw.decode("utf-8", "backslashreplace")
        text = _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", text)
        if len(raw) < notice.body_size:
            size = f"only the first {len(raw)} of {notice.body_size} bytes were stored"
        else:
            size = f"{len(raw)} bytes"
        payload = "(no JSON object)" if notice.payload is None else _pretty_json(notice.payload)
        return format_html(
            '<div style="display: flex; gap: 1em; align-items: flex-start">'
            '<div style="flex: 1; min-width: 0"><strong>Raw body</strong> ({})<br>{}</div>'
            '<div style="flex: 1; min-width: 0"><strong>Parsed payload</strong><br>{}</div>'
            "</div>",
            size, _pre(text), _pre(payload),
        )

    @admin.action(description="Replay selected notices", permissions=["replay"])
    def replay(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True)[: REPLAY_LIMIT + 1])
        if len(ids) > REPLAY_LIMIT:
            self.message_user(
                request, f"Select at most {REPLAY_LIMIT} notices to replay at once.", messages.ERROR
            )
            return
        replayed = notice_replay(notices=Notice.objects.filter(pk__in=ids))
        self.message_user(
            request,
            f"Replayed {replayed} of {len(ids)} notices; skipped {len(ids) - replayed} "
            "(duplicates and invalid notices are never replayed).",
            messages.SUCCESS,
        )


@admin.register(Refusal)
class RefusalAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """The sample of refused requests; `RefusalCount` has every one of them counted."""

    list_display = ["received_at", "reason", "detail", "remote_addr", "body_size"]
    list_filter = ["reason", "received_at"]
    sortable_by = ["received_at"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    readonly_fields = ["received_at", "reason", "detail", "remote_addr", "headers", "body_head",
                       "body_size"]


@admin.register(RefusalCount)
class RefusalCountAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["minute", "reason", "count"]
    list_filter = ["reason"]
    sortable_by = ["minute"]

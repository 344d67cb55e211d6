"""Admin of tasks: browse what Topview told us, and choose who is told when a task finishes.

Everything here is written by notices, so every field is read-only except `owner`.
"""

from django.contrib import admin
from django.utils.html import format_html

from notices.models import Notice
from notices.pagination import EstimatedCountPaginator

from .models import OPEN_STATUSES, MediaCopy, Notification, Task

# The bizType values of the contract. A fixed list: listing the values found in the table
# (AllValuesFieldListFilter) would run SELECT DISTINCT over every row on each page view.
BIZ_TYPES = [
    "SCRAPER",
    "ZERO_SHOT_AVATAR",
    "M2V_PREVIEW",
    "M2V_EXPORT",
    "M2V_SCRIPT",
    "PRODUCT_AVATAR_REPLACE_PRODUCT_IMAGE",
    "PRODUCT_AVATAR_IMAGE2VIDEO",
    "PRODUCT_ANY_SHOOT",
    "COMMON_TASK_IMAGE2VIDEO",
    "COMMON_TASK_TEXT2VIDEO",
    "COMMON_TASK_TEXT2IMAGE",
    "COMMON_TASK_VIDEO2AIAVATAR",
    "VOICE_CLONE",
    "VOICE_TEXT2VOICE",
]


class BizTypeFilter(admin.SimpleListFilter):
    """Filter on `biz_type` by exact value, which the (biz_type, time) indexes serve."""

    title = "bizType"
    parameter_name = "biz_type"

    def lookups(self, request, model_admin):
        return [(value, value) for value in BIZ_TYPES]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(biz_type=self.value())
        return queryset


class ReconciliationFilter(admin.SimpleListFilter):
    """Open tasks reconciliation cannot ask Topview about (kind unknown): served by a partial index."""

    title = "reconciliation"
    parameter_name = "reconciliation"

    def lookups(self, request, model_admin):
        return [("unaskable", "Cannot be asked (kind unknown)")]

    def queryset(self, request, queryset):
        if self.value() == "unaskable":
            return queryset.filter(status__in=OPEN_STATUSES, next_poll_at__isnull=True)
        return queryset


class ReadOnlyAdmin:
    """Mixed into admins and inlines of records the service writes: staff only read them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class NoticeInline(ReadOnlyAdmin, admin.TabularInline):
    """The task's notices in the order they arrived, each linked to its own page."""

    model = Notice
    fields = readonly_fields = [
        "received_at", "source", "format", "status", "task_status", "state",
        "is_duplicate", "is_late", "is_test",
    ]
    ordering = ["received_at", "id"]
    show_change_link = True
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).defer("raw_body", "payload", "headers")


def _link(url: str, text: str):
    return format_html('<a href="{}" rel="noreferrer">{}</a>', url, text) if url else "-"


class MediaCopyInline(ReadOnlyAdmin, admin.TabularInline):
    """The archived result files: Topview's URL (valid 7 days) beside our copy."""

    model = MediaCopy
    fields = readonly_fields = [
        "role", "state", "source_link", "copy_link", "size", "sha256", "attempts",
        "last_error", "source_expires_at", "archived_at",
    ]
    extra = 0

    @admin.display(description="Topview's URL")
    def source_link(self, copy):
        # Topview's URL came in a notice: a javascript: one would run in the admin when clicked.
        if not copy.source_url.lower().startswith(("http://", "https://")):
            return copy.source_url or "-"
        return _link(copy.source_url, "source")

    @admin.display(description="our copy")
    def copy_link(self, copy):
        return _link(copy.url, copy.file.name)


class NotificationInline(ReadOnlyAdmin, admin.TabularInline):
    model = Notification
    fields = readonly_fields = ["user", "status", "created_at", "sent_at"]
    extra = 0


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = [
        "topview_task_id", "biz_type", "status", "owner", "status_changed_at", "updated_at",
    ]
    list_filter = ["status", BizTypeFilter, ReconciliationFilter, "updated_at"]
    list_select_related = ["owner"]
    search_fields = ["topview_task_id__exact"]
    search_help_text = "Exact Topview task id."
    sortable_by = ["updated_at"]  # The only order an index serves.
    fieldsets = [
        (None, {"fields": [
            "topview_task_id", "biz_type", "kind", "status", "status_changed_at", "owner",
            "error_message", "video_url", "cover_url", "duration_ms", "cost_credits", "result",
            "created_at", "updated_at",
        ]}),
        ("Reconciliation", {"fields": [
            "next_poll_at", "poll_attempts", "last_polled_at", "poll_error",
        ]}),
    ]
    readonly_fields = [
        name for _, options in fieldsets for name in options["fields"] if name != "owner"
    ]
    autocomplete_fields = ["owner"]
    inlines = [NoticeInline, NotificationInline, MediaCopyInline]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    def has_add_permission(self, request):
        return False  # Tasks are created by their first notice.

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Who was told what: a record written by the workers, read-only here."""

    list_display = ["task", "user", "status", "created_at", "sent_at"]
    list_filter = ["status"]
    list_select_related = ["task", "user"]
    search_fields = ["task__topview_task_id__exact"]
    search_help_text = "Exact Topview task id."
    readonly_fields = ["task", "user", "status", "created_at", "sent_at"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

"""What the Task API takes and answers: explicit fields, nothing inferred from the model."""

from rest_framework import serializers

from tasks.models import MediaCopy, Task
from tasks.topview_client import KINDS


class MediaCopySerializer(serializers.ModelSerializer):
    """Our copy of a result file: Topview's URL stops working 7 days after success, ours not."""

    url = serializers.CharField(read_only=True, help_text="Our copy's URL; empty until archived.")

    class Meta:
        model = MediaCopy
        fields = ["role", "state", "source_url", "url", "size", "sha256", "archived_at"]
        read_only_fields = fields


class TaskSerializer(serializers.ModelSerializer):
    media_copies = MediaCopySerializer(
        many=True, read_only=True, help_text="Our copies of the video and cover, once it succeeded."
    )

    class Meta:
        model = Task
        fields = [
            "id", "topview_task_id", "kind", "biz_type", "status", "status_changed_at",
            "error_message", "video_url", "cover_url", "media_copies", "duration_ms",
            "cost_credits", "created_at", "updated_at",
        ]
        read_only_fields = fields


class TaskSubmitSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=sorted(KINDS), help_text="Which Topview API to submit to (contract §4)."
    )
    params = serializers.DictField(
        help_text="The JSON object Topview's submit endpoint for this kind takes, passed on as "
        "it is; `noticeUrl` is always ours."
    )

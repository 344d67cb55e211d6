"""What the Task API takes and answers: explicit fields, nothing inferred from the model."""

from rest_framework import serializers

from tasks.models import Task
from tasks.topview_client import KINDS


class TaskSerializer(serializers.ModelSerializer):
    class Meta:
        model = Task
        fields = [
            "id", "topview_task_id", "kind", "biz_type", "status", "status_changed_at",
            "error_message", "video_url", "cover_url", "duration_ms", "cost_credits",
            "created_at", "updated_at",
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

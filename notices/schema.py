"""The notice endpoint in the OpenAPI schema: its views read raw bytes, so nothing can be
inferred from a serializer; what it takes and answers is said here, with examples."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers

ERROR = inline_serializer(
    "NoticeError", {"success": serializers.BooleanField(), "error": serializers.CharField()}
)
ACK = inline_serializer(
    "NoticeAcknowledgement",
    {
        "code": serializers.CharField(required=False, help_text='In Topview\'s format: "200"'),
        "message": serializers.CharField(),
        "result": serializers.DictField(required=False, help_text="Topview's format: uuid, topviewUid"),
        "success": serializers.BooleanField(required=False, help_text="Simple format"),
        "timestamp": serializers.DateTimeField(required=False, help_text="Simple format"),
    },
)
REFUSALS = {
    400: OpenApiResponse(ERROR, description="Not a JSON object (stored as an invalid notice)"),
    401: OpenApiResponse(ERROR, description="No valid token, or a bad signature (a refusal)"),
    403: OpenApiResponse(ERROR, description="A Topview callback for another Topview account"),
    408: OpenApiResponse(ERROR, description="The body did not arrive in time (stored)"),
    413: OpenApiResponse(ERROR, description="Body over NOTICE_MAX_BODY_BYTES (size stored)"),
    429: OpenApiResponse(ERROR, description="Over the rate limit; see Retry-After"),
    503: OpenApiResponse(ERROR, description="Database unreachable: retry (error_id in the log)"),
}

post_notice = extend_schema(
    summary="Receive a Topview notice",
    description=(
        "Topview's callback (a `uuid`, header `Topview-Uid`) or the simple format of the "
        "original design (`taskId`, `status`, `message`, `timestamp`). Every delivery is stored "
        "before it is answered; processing happens in the workers."
    ),
    request={"application/json": OpenApiTypes.OBJECT},
    responses={200: ACK, **REFUSALS},
    examples=[
        OpenApiExample("Topview callback", request_only=True, value={
            "uuid": "4c1f0b0e9a", "bizType": "M2V_EXPORT", "taskId": "task_12345",
            "status": "success", "errorMsg": "", "result": {"exportVideos": []}}),
        OpenApiExample("Simple format", request_only=True, value={
            "taskId": "task_12345", "status": "success", "message": "Video generation completed",
            "timestamp": "2024-01-01T00:00:00Z"}),
    ],
)
get_notice = extend_schema(summary="Is the notice endpoint alive", responses={200: OpenApiTypes.OBJECT})
post_test_notice = extend_schema(
    summary="Store and process a simulated test notice (nobody is told)",
    request=None,
    responses={200: OpenApiTypes.OBJECT, 401: ERROR, 404: ERROR, 503: ERROR},
)



class NoticeAutoSchema(AutoSchema):
    """One view serves /notice/topview and /notice/topview/{token}: distinct operation ids."""

    def get_operation_id(self):
        operation_id = super().get_operation_id()
        return f"{operation_id}_with_token" if "{token}" in self.path else operation_id

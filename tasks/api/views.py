"""The Task API: users submit Topview tasks and read their own, never anyone else's."""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import (
    OpenApiResponse, extend_schema, extend_schema_view, inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from tasks.selectors import USER_TASK_ORDERING, task_list_for_user
from tasks.submission import task_submit
from tasks.topview_client import TopviewError

from .errors import api_error_for
from .filters import TaskFilter
from .serializers import TaskSerializer, TaskSubmitSerializer


class TaskCursorPagination(CursorPagination):
    """Cursor pagination: each page costs the same however deep (no OFFSET, no COUNT), and a
    task submitted while a user pages never shifts a row onto the next page twice."""

    ordering = USER_TASK_ORDERING
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class OwnTasks:
    """Token or session authentication; every query starts from the user's own tasks."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    serializer_class = TaskSerializer

    def get_queryset(self):
        return task_list_for_user(user=self.request.user)


API_ERROR = inline_serializer(
    "TaskApiError", {"detail": serializers.CharField(),
                     "code": serializers.CharField(required=False, help_text="Ours, stable")}
)
SUBMIT_ERRORS = {
    400: OpenApiResponse(description="Bad input (field errors), or Topview refused the params "
                         "(`invalid_params`, `refused`, with Topview's message)"),
    401: OpenApiResponse(API_ERROR, description="Not authenticated"),
    402: OpenApiResponse(API_ERROR, description="Not enough Topview credit"),
    409: OpenApiResponse(API_ERROR, description="Topview: name duplicated, or a task unfinished"),
    502: OpenApiResponse(API_ERROR, description="Topview gave no answer (the task may exist: "
                         "`topview_no_answer`) or an error we cannot act on"),
    503: OpenApiResponse(API_ERROR, description="Topview busy or unreachable (see Retry-After), "
                         "or submitting not configured"),
}


@extend_schema_view(get=extend_schema(
    summary="List your tasks, newest first", tags=["tasks"],
    description="Only your own tasks. Cursor pagination: follow `next` and `previous`.",
    responses={200: TaskSerializer(many=True),
               400: OpenApiResponse(description="A filter's value is invalid"),
               401: OpenApiResponse(API_ERROR, description="Not authenticated")},
))
class TaskListView(OwnTasks, generics.ListAPIView):
    parser_classes = [JSONParser]
    filter_backends = [DjangoFilterBackend]
    filterset_class = TaskFilter
    pagination_class = TaskCursorPagination

    @extend_schema(
        summary="Submit a task to Topview", tags=["tasks"], request=TaskSubmitSerializer,
        description="Topview is asked at once, with our notice URL; the task you get is yours "
        "and follows Topview's callbacks from then on. Errors carry a `code`.",
        responses={201: TaskSerializer, **SUBMIT_ERRORS},
    )
    def post(self, request):
        submit = TaskSubmitSerializer(data=request.data)
        submit.is_valid(raise_exception=True)
        try:
            task = task_submit(user=request.user, **submit.validated_data)
        except TopviewError as error:
            raise api_error_for(error) from error
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)


@extend_schema(
    summary="Read one of your tasks", tags=["tasks"],
    description="Anyone else's task is answered 404, as one that does not exist.",
    responses={200: TaskSerializer,
               401: OpenApiResponse(API_ERROR, description="Not authenticated"),
               404: OpenApiResponse(API_ERROR, description="Not one of your tasks")},
)
class TaskDetailView(OwnTasks, generics.RetrieveAPIView):
    pass

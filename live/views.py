from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import render

from .messages import notice_message
from .selectors import notice_list_recent


@staff_member_required
def notices_page(request):
    """The newest notices; the page's script adds each one processed from now on."""
    limit = settings.LIVE_RECENT_NOTICES
    notices = [notice_message(notice) for notice in notice_list_recent(limit=limit)]
    return render(request, "live/notices.html", {"notices": notices, "limit": limit})

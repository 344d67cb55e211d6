from hypothesis import given
from hypothesis import strategies as st

from tasks.lifecycle import transition
from tasks.status import TERMINAL, TaskStatus, normalise_status

S = TaskStatus


def replay(statuses, start=S.UNKNOWN):
    current, late = start, []
    for incoming in statuses:
        step = transition(current=current, incoming=incoming)
        current = step.status
        late.append(step.late)
    return current, late


def test_forward_moves_apply():
    assert transition(current=S.UNKNOWN, incoming=S.QUEUED).changed
    assert transition(current=S.QUEUED, incoming=S.RUNNING).changed
    step = transition(current=S.RUNNING, incoming=S.SUCCESS)
    assert step.changed and step.finished and not step.late


def test_a_final_status_is_never_left():
    for final in TERMINAL:
        for incoming in (S.QUEUED, S.RUNNING, S.SUCCESS, S.FAILED):
            step = transition(current=final, incoming=incoming)
            assert step.status == final and not step.changed
            assert step.late == (incoming != final)


def test_backwards_is_late_and_same_is_not():
    assert transition(current=S.RUNNING, incoming=S.QUEUED).late
    same = transition(current=S.RUNNING, incoming=S.RUNNING)
    assert not same.changed and not same.late


def test_unreadable_status_changes_nothing():
    step = transition(current=S.RUNNING, incoming=S.UNKNOWN)
    assert step.status == S.RUNNING and not step.changed and not step.late


def test_first_final_status_wins():
    assert replay([S.FAILED, S.SUCCESS])[0] == S.FAILED


progress = st.lists(st.sampled_from([S.QUEUED, S.RUNNING, S.UNKNOWN]), max_size=8)


@given(before=progress, after=progress, final=st.sampled_from(sorted(TERMINAL)), copies=st.integers(1, 3), data=st.data())
def test_any_order_of_one_tasks_notices_ends_in_its_final_status(before, after, final, copies, data):
    notices = data.draw(st.permutations(before + [final] * copies + after))
    current, late = replay(notices)
    assert current == final
    finished_at = notices.index(final)
    # Every non-final notice after the final one is late; none before it is.
    for position, incoming in enumerate(notices):
        if position > finished_at and incoming not in (final, S.UNKNOWN):
            assert late[position]


@given(progress)
def test_without_a_final_notice_the_furthest_status_wins(notices):
    current, _ = replay(notices)
    expected = S.RUNNING if S.RUNNING in notices else S.QUEUED if S.QUEUED in notices else S.UNKNOWN
    assert current == expected


def test_normalise_status_follows_the_contract():
    table = {
        "init": S.QUEUED, "running": S.RUNNING, "processing": S.RUNNING, "PROCESSING": S.RUNNING,
        "success": S.SUCCESS, "SUCCESS": S.SUCCESS, "succeeded": S.SUCCESS, "completed": S.SUCCESS,
        "fail": S.FAILED, "failed": S.FAILED, "error": S.FAILED, " Failed ": S.FAILED,
        "paused": S.UNKNOWN, "": S.UNKNOWN, None: S.UNKNOWN, 3: S.UNKNOWN,
    }
    for word, expected in table.items():
        assert normalise_status(word) == expected, word


@given(st.lists(st.sampled_from(list(S)), min_size=1, max_size=12))
def test_the_first_final_status_in_any_sequence_wins_and_nothing_before_it_is_late(notices):
    current, late = replay(notices)
    finals = [n for n in notices if n in TERMINAL]
    if finals:
        assert current == finals[0]
        first = notices.index(finals[0])
        # Before the first final status nothing is late unless it goes backwards.
        assert all(not late[i] or notices[i] in (S.QUEUED,) for i in range(first))
        assert all(late[i] == (notices[i] not in (finals[0], S.UNKNOWN)) for i in range(first + 1, len(notices)))

"""The one backoff rule the retries share (notices, media copies, reconciliation's queries)."""


def doubling(*, attempts: int, base: int, cap: int) -> int:
    """Seconds to wait after the `attempts`-th try: base, 2x, 4x... never more than `cap`."""
    return min(base * 2 ** max(attempts - 1, 0), cap)

"""Who may post a notice: plain rules the view applies and the tests call directly.

Topview signs nothing (contract §1), so the notice URL itself carries a secret token. Each rule
answers with the reason for a refusal, or "" when the request may pass.
"""

import hmac
import ipaddress
from collections.abc import Mapping, Sequence

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def token_refusal(given: str, tokens: Sequence[str]) -> str:
    """Any configured token will do; none configured, none needed (development)."""
    if not tokens:
        return ""
    # Compared with every token, in constant time, so timing tells nothing about any of them.
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(given.encode(), token.encode())
    return "" if matched else ("no token" if not given else "wrong token")


def topview_uid_refusal(*, sent: str | None, expected: str, is_topview: bool) -> str:
    """A Topview callback must name our account, when we know it."""
    if not expected or (sent is None and not is_topview):
        return ""
    if sent is None:
        return "Topview-Uid header missing"
    return "" if hmac.compare_digest(sent.encode(), expected.encode()) else "wrong Topview-Uid"


def signature_refusal(raw: bytes, headers: Mapping[str, str], secrets: Sequence[str]) -> str:
    """Standard Webhooks: HMAC-SHA256 over id, timestamp and body, within 5 minutes; any secret."""
    if not secrets:
        return ""
    reason = ""
    for secret in secrets:
        try:
            Webhook(secret).verify(raw, dict(headers), json_parse=False)
            return ""
        except WebhookVerificationError as exc:
            reason = str(exc)
    return f"bad signature: {reason}"


def client_address(*, remote_addr: str | None, forwarded_for: str, trusted: Sequence[str]) -> str | None:
    """The client: the direct peer, or the nearest X-Forwarded-For address no trusted proxy owns.

    X-Forwarded-For is only believed when it reaches us through proxies we trust; anyone can
    write the header, so its leftmost entries prove nothing.
    """
    networks = [ipaddress.ip_network(item, strict=False) for item in trusted]
    address = _ip(remote_addr)
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    while address is not None and hops and any(address in net for net in networks):
        hop = _ip(hops.pop())
        if hop is None:
            break  # A trusted proxy passed on garbage: the proxy is all we know.
        address = hop
    return str(address) if address is not None else None


def _ip(value: str | None):
    try:
        return ipaddress.ip_address((value or "").strip())
    except ValueError:
        return None

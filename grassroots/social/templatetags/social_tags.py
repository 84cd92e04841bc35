"""`{% social_follow_button kind target_id as fb %}`: the state behind social/_follow_button.html.

Pages that render many buttons pass `follow_states` ({(kind, id): bool} from
social.selectors.social_follow_state) so the buttons cost no queries; a lone button (a shop page)
asks for its own state in one query.
"""

from __future__ import annotations

from typing import Any

from django import template

from grassroots.social import selectors
from grassroots.social.models import FollowTarget

register = template.Library()


@register.simple_tag(takes_context=True)
def social_follow_button(context: template.Context, kind: Any, target_id: Any) -> dict[str, Any]:
    kind = str(kind)
    try:
        target = int(target_id)
    except (TypeError, ValueError):
        return {"show": False}
    if kind not in FollowTarget.values:
        return {"show": False}
    request = context.get("request")
    user = getattr(request, "user", None)
    signed_in = bool(user is not None and user.is_authenticated)
    states = context.get("follow_states") or {}
    key = (kind, target)
    is_self = False
    if key in states:
        following = bool(states[key])
        is_self = signed_in and kind == FollowTarget.USER and target == user.pk  # type: ignore[union-attr]
    elif signed_in:
        following, is_self = selectors.social_follow_button_state(
            viewer_id=user.pk,  # type: ignore[union-attr]
            kind=kind,
            target_id=target,
        )
    else:
        following = False
    return {
        "show": not is_self,
        "kind": kind,
        "target_id": target,
        "following": following,
        "signed_in": signed_in,
    }

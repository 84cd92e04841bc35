"""Explicit transition tables, validated when they are defined (at import)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from grassroots.core.errors import ServiceError


class InvalidTransition(ServiceError):
    status = 409
    code = "invalid_transition"


@dataclass(frozen=True)
class StateMachine:
    """`transitions` maps (state, action) to the next state.

    Built at import time, so a typo in a table fails every test run, not a request.
    """

    name: str
    states: frozenset[str]
    initial: str
    transitions: dict[tuple[str, str], str] = field(default_factory=dict)
    terminal: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.initial not in self.states:
            raise ValueError(f"{self.name}: initial state {self.initial!r} is not a state")
        for (source, action), target in self.transitions.items():
            if source not in self.states or target not in self.states:
                raise ValueError(f"{self.name}: {source!r} -{action}-> {target!r} uses an unknown state")
            if source in self.terminal:
                raise ValueError(f"{self.name}: terminal state {source!r} has an outgoing transition")
        reachable = {self.initial}
        frontier = [self.initial]
        while frontier:
            current = frontier.pop()
            for (source, _action), target in self.transitions.items():
                if source == current and target not in reachable:
                    reachable.add(target)
                    frontier.append(target)
        unreachable = self.states - reachable
        if unreachable:
            raise ValueError(f"{self.name}: unreachable states {sorted(unreachable)}")

    def next_state(self, current: str, action: str) -> str:
        try:
            return self.transitions[(current, action)]
        except KeyError:
            raise InvalidTransition(
                _("This is not possible now: cannot %(action)s while the %(machine)s is %(state)s.")
                % {"action": action.replace("_", " "), "machine": self.name, "state": current.replace("_", " ")},
                fields={"state": current, "action": action},
            ) from None

    def can(self, current: str, action: str) -> bool:
        return (current, action) in self.transitions

    def actions_from(self, current: str) -> list[str]:
        return [action for (source, action) in self.transitions if source == current]


def build_machine(
    name: str,
    *,
    initial: str,
    edges: Iterable[tuple[str, str, str]],
    terminal: Iterable[str] = (),
) -> StateMachine:
    """Edges are (source, action, target) triples; states are inferred."""
    edge_list = list(edges)
    states = {initial} | {s for s, _, _ in edge_list} | {t for _, _, t in edge_list} | set(terminal)
    return StateMachine(
        name=name,
        states=frozenset(states),
        initial=initial,
        transitions={(s, a): t for s, a, t in edge_list},
        terminal=frozenset(terminal),
    )

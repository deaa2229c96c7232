"""Nested budgets: a subagent, a tool or a task spends within its own cap and its parent's.

``child = budget.child("s1", "search", cap=5_000)`` is a budget nested in session ``s1``;
``child.child("fetch", cap=1_000)`` nests further. A child's reservation holds its tokens in
its own scope *and* in every ancestor's (the parent session's scopes included: its user,
conversation, global caps, quotas and rate limits), in the ledger's one atomic step, so a child
can never outspend any ancestor, and what it commits counts in all of them at once.

A child's scope is its parent's scope name, ``":"`` and its own name (``session:s1:search``,
``session:s1:search:fetch``): ids have ``":"`` percent-encoded, so the separator is
unambiguous. Children live in the ledger like any scope: every process sees the same tree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._async import AsyncReservation, reserved
from ._scopes import escape_id, id_scope, unescape_id
from ._steps import Steps, run
from ._values import check_id, check_tokens
from .ledgers import Limit

if TYPE_CHECKING:
    from ..typing import Tokenizer
    from ._budget import SessionBudget
    from ._reservation import Reservation
    from ._values import BudgetStatus

__all__ = ["ChildBudget", "Nesting", "children_of"]


class ChildBudget:
    """A budget nested in a session or in another child (see :meth:`SessionBudget.child`).

    Attributes:
        root: the :class:`~ctxbudget.SessionBudget` whose ledger holds everything.
        session: the root session id.
        name: this child's name (one path part).
        scope: its scope name (``"session:<root>:<name>..."``).
        cap: its own cap in tokens, or ``None`` (then only its ancestors' caps apply).
    """

    def __init__(
        self,
        root: SessionBudget,
        session: str,
        name: str,
        cap: int | None,
        ancestors: tuple[Limit, ...] = (),
    ) -> None:
        self.root = root
        self.session = check_id(session, "session")
        self.name = check_id(name, "child")
        if cap is not None:
            check_tokens(cap, "cap")
        self.cap = cap
        parent = ancestors[-1].scope if ancestors else id_scope("session", session)
        self.scope = f"{parent}:{escape_id(self.name)}"
        self._chain = (*ancestors, Limit(self.scope, cap, root.retention_s))

    @property
    def tokenizer(self) -> Tokenizer:
        """The root budget's tokenizer (``guard`` estimates prompts with it)."""
        return self.root.tokenizer

    def child(self, name: str, *, cap: int | None = None) -> ChildBudget:
        """A budget nested in this one (same rules, one level deeper).

        Raises:
            ConfigurationError: the name is invalid, or ``cap`` is not a whole number >= 1.
        """
        return ChildBudget(self.root, self.session, name, cap, self._chain)

    def reserve(
        self,
        tokens: int,
        *,
        session: str | None = None,
        user: str | None = None,
        conversation: str | None = None,
        heartbeat: bool = True,
        idempotency_key: str | None = None,
    ) -> Reservation:
        """Hold ``tokens`` in this child, every ancestor child and the root session's scopes,
        in one atomic ledger step (as :meth:`SessionBudget.reserve`).

        ``session`` may be given (as ``guard`` does) and must then be the root session;
        ``idempotency_key`` as for :meth:`SessionBudget.reserve`.

        Raises:
            BudgetExhausted: a scope (this child's, an ancestor's, the session's...) would
                pass its cap; it names the scope. Nothing is held.
            ConfigurationError: ``tokens`` or an id is invalid, or ``session`` is another one.
            LedgerError: the ledger failed.
        """
        steps = self._reserve_steps(
            tokens,
            session,
            user,
            conversation,
            heartbeat=heartbeat,
            idempotency_key=idempotency_key,
        )
        return run(self.root.ledger, steps)

    async def areserve(
        self,
        tokens: int,
        *,
        session: str | None = None,
        user: str | None = None,
        conversation: str | None = None,
        heartbeat: bool = True,
        idempotency_key: str | None = None,
    ) -> AsyncReservation:
        """:meth:`reserve` without blocking the event loop (as
        :meth:`SessionBudget.areserve`; same arguments and errors)."""
        steps = self._reserve_steps(
            tokens,
            session,
            user,
            conversation,
            heartbeat=heartbeat,
            idempotency_key=idempotency_key,
        )
        return await reserved(self.root.ledger, steps)

    def _reserve_steps(
        self,
        tokens: int,
        session: str | None,
        user: str | None,
        conversation: str | None,
        *,
        heartbeat: bool,
        idempotency_key: str | None,
    ) -> Steps[Reservation]:
        from .._errors import ConfigurationError

        if session is not None and session != self.session:
            raise ConfigurationError(
                f"child budget {self.scope!r} belongs to session {self.session!r}, not {session!r}"
            )
        check_tokens(tokens, "tokens")
        limits = (*self.root._limits(self.session, user, conversation), *self._chain)
        return self.root._hold(tokens, limits, heartbeat=heartbeat, idempotency_key=idempotency_key)

    def status(self) -> BudgetStatus:
        """This child's spend, with its own cap."""
        return status_in(self.root, self.scope, self.cap)

    def tree(self) -> list[BudgetStatus]:
        """This child's status, then its descendants', depth first by scope name."""
        return [self.status(), *children_of(self.root, self.scope)]

    def __repr__(self) -> str:
        return f"ChildBudget({self.scope!r}, cap={self.cap})"


def status_in(root: SessionBudget, scope: str, cap: int | None) -> BudgetStatus:
    """The status of ``scope`` in ``root``'s ledger (``cap`` for a scope never used)."""
    from ._events import status_of
    from .ledgers import ScopeRecord

    record = root.ledger.status(scope) or ScopeRecord(scope, cap=cap)
    return status_of(record, root.soft_warn_ratio)


def children_of(root: SessionBudget, scope: str) -> list[BudgetStatus]:
    """The statuses of every descendant of ``scope`` the ledger keeps, sorted by scope name,
    each with the cap its last step was checked against."""
    return [status_in(root, name, None) for name in root.ledger.scopes(scope + ":")]


def path_of(scope: str) -> list[str]:
    """The ids along a child scope name: ``"session:s1:search"`` -> ``["s1", "search"]``."""
    return [unescape_id(part) for part in scope.split(":")[1:]]


class Nesting:
    """:meth:`child` and :meth:`tree` of :class:`~ctxbudget.SessionBudget` (a base class)."""

    def child(self, session: str, name: str, *, cap: int | None = None) -> ChildBudget:
        """A budget nested in ``session``: a subagent, a tool or a task that spends within
        its own ``cap`` (tokens; ``None``: only the session's caps) and every ancestor's, in
        one atomic step. ``child.child(name, cap=...)`` nests further.

        Raises:
            ConfigurationError: an id is invalid, or ``cap`` is not a whole number >= 1.
        """
        return ChildBudget(self, session, name, cap)  # type: ignore[arg-type]

    def tree(self, session: str) -> list[BudgetStatus]:
        """The session's status, then every child's at any depth, sorted by scope name.

        Raises:
            ConfigurationError: the session id is invalid.
            LedgerError: the ledger failed.
        """
        root: SessionBudget = self  # type: ignore[assignment]
        return [root.status(session), *children_of(root, id_scope("session", session))]

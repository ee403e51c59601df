"""Settling a change whose answer was lost, part by part.

A tool's `settle` reads Mage after the answer to its change was lost: it returns the outcome when Mage
shows the change, None when Mage shows that nothing changed. When Mage shows neither (a part of the
change, or a state the change cannot explain), it raises `Undecided`: the gate then keeps the outcome
unknown and says what Mage shows.
"""

from collections.abc import Iterable

from mage_mcp.server.confirmation import Undecided

__all__ = ["Undecided", "applied_or_not"]


def applied_or_not(applied: Iterable[bool], what: str) -> bool:
    """True when every part of a change shows in Mage, False when none does; `Undecided` for a part of it."""
    parts = list(applied)
    if all(parts):
        return True
    if any(parts):
        raise Undecided(f"Mage shows only part of {what}.")
    return False

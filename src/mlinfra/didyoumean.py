"""Suggest the valid name a user most likely meant to type ("did you mean ...?").

Closeness is the optimal-string-alignment (restricted Damerau-Levenshtein) distance: the
number of single-character insertions, deletions, substitutions and swaps of two adjacent
characters. Swaps count once because transposed letters ("instance_tpye") are the most
common typo. A suggestion is offered only within max(1, len(word) // 3) edits, so short
words need to be nearly right and long ones may be off by a few characters.
"""

from __future__ import annotations

from collections.abc import Iterable


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to `word`, or None when none is close enough.

    Case is ignored when measuring ("ML.M5.Large" suggests "ml.m5.large"). Ties go to the
    candidate that comes first: in the caller's order for ordered collections, and
    alphabetically for sets, whose iteration order changes from one run to the next.
    """
    if isinstance(candidates, set | frozenset):
        candidates = sorted(candidates)
    target = word.casefold()
    target_letters = set(target)
    limit = max(1, len(word) // 3)
    best: str | None = None
    for candidate in candidates:
        # Two cheap lower bounds on the distance come first, so that comparing a word with
        # a thousand instance types takes about a millisecond: the length difference...
        folded = candidate.casefold()
        if abs(len(folded) - len(target)) > limit:
            continue
        # ...and the letters one string lacks, as one edit adds or removes at most one.
        letters = set(folded)
        if len(target_letters - letters) > limit or len(letters - target_letters) > limit:
            continue
        distance = _distance_within(target, folded, limit)
        if distance is None:
            continue
        best = candidate
        if distance == 0:
            break
        # Later candidates must now beat this one strictly, so ties keep the first.
        limit = distance - 1
    return best


def _distance_within(a: str, b: str, limit: int) -> int | None:
    """The optimal-string-alignment distance of `a` and `b`, or None if it exceeds `limit`."""
    # A shared prefix or suffix never changes the distance, and catalogue names share a lot
    # of both ("ml." and "xlarge"), so only the differing middle goes through the table.
    shortest = min(len(a), len(b))
    start = 0
    while start < shortest and a[start] == b[start]:
        start += 1
    end = 0
    while end < shortest - start and a[-1 - end] == b[-1 - end]:
        end += 1
    a, b = a[start : len(a) - end], b[start : len(b) - end]
    if not a or not b:
        distance = len(a) + len(b)
        return distance if distance <= limit else None

    # Cells more than `limit` off the diagonal cost more than `limit` edits, so each row is
    # computed only within that band; the rest hold `out_of_reach`.
    out_of_reach = limit + 1
    width = len(b) + 1
    before: list[int] = []
    previous = [min(j, out_of_reach) for j in range(width)]
    for i in range(1, len(a) + 1):
        char = a[i - 1]
        current = [out_of_reach] * width
        current[0] = min(i, out_of_reach)
        row_min = current[0]
        for j in range(max(1, i - limit), min(len(b), i + limit) + 1):
            other = b[j - 1]
            value = previous[j - 1] if char == other else previous[j - 1] + 1
            if previous[j] + 1 < value:
                value = previous[j] + 1
            if current[j - 1] + 1 < value:
                value = current[j - 1] + 1
            if i > 1 and j > 1 and char == b[j - 2] and a[i - 2] == other:
                if before[j - 2] + 1 < value:
                    value = before[j - 2] + 1
            current[j] = value
            if value < row_min:
                row_min = value
        # Every later row is at least this row's minimum, so stop once it is out of reach.
        if row_min > limit:
            return None
        before, previous = previous, current
    distance = previous[-1]
    return distance if distance <= limit else None

"""suggest() offers the near-miss a user meant, and nothing for words that are far off."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlinfra.didyoumean import suggest
from mlinfra.sagemaker import instances, regions


@pytest.mark.parametrize(
    ("word", "candidates", "expected"),
    [
        ("instance_tpye", ["instance_count", "instance_type", "autoscaling"], "instance_type"),
        ("ml.m5.larg", sorted(instances.instance_types("endpoint")), "ml.m5.large"),
        ("churn-apii", ["churn-model", "churn-api"], "churn-api"),
        ("us-eats-1", regions.all_regions(), "us-east-1"),
        ("ml.t2.mediun", instances.instance_types("endpoint"), "ml.t2.medium"),
    ],
)
def test_a_near_miss_suggests_what_was_meant(word, candidates, expected):
    assert suggest(word, candidates) == expected


@pytest.mark.parametrize(
    ("word", "candidates"),
    [
        ("banana", instances.instance_types("endpoint")),
        ("completely-unrelated", instances.instance_types("endpoint")),
        ("zzz", ["churn-api", "churn-model"]),
        ("ab", ["xy"]),
        ("anything", []),
    ],
)
def test_an_unrelated_word_suggests_nothing(word, candidates):
    assert suggest(word, candidates) is None


def test_an_exact_match_is_its_own_suggestion():
    assert suggest("ml.m5.large", instances.instance_types("endpoint")) == "ml.m5.large"


def test_case_is_ignored():
    assert suggest("ML.M5.Large", instances.instance_types("endpoint")) == "ml.m5.large"


def test_short_words_may_be_off_by_one_edit_only():
    assert suggest("abc", ["abd"]) == "abd"
    assert suggest("abc", ["xyc"]) is None


def test_longer_words_may_be_off_by_a_third_of_their_length():
    assert suggest("abcdefghi", ["abcdefxyz"]) == "abcdefxyz"
    assert suggest("abcdefghi", ["abcdewxyz"]) is None


def test_a_swap_of_adjacent_letters_is_one_edit():
    assert suggest("abc", ["bac"]) == "bac"


def test_the_closest_candidate_wins_over_an_earlier_one():
    assert suggest("ml.m5.larg", ["ml.m4.large", "ml.m5.large"]) == "ml.m5.large"


def test_ties_go_to_the_first_candidate_in_the_callers_order():
    assert suggest("cat", ["hat", "bat"]) == "hat"
    assert suggest("cat", ["bat", "hat"]) == "bat"


def test_ties_among_a_set_go_to_the_alphabetically_first():
    assert suggest("cat", {"hat", "bat", "rat"}) == "bat"
    assert suggest("cat", frozenset({"rat", "hat"})) == "hat"


def _osa_distance(a: str, b: str) -> int:
    # The textbook full-table algorithm, as the reference for the pruned one.
    table = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i][j] = min(
                table[i - 1][j] + 1,
                table[i][j - 1] + 1,
                table[i - 1][j - 1] + (a[i - 1] != b[j - 1]),
            )
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
    return table[-1][-1]


words = st.text(alphabet="abc.-", max_size=12)


@given(words, st.lists(words, max_size=8))
def test_suggest_picks_the_first_candidate_at_the_least_distance_within_reach(word, candidates):
    reach = max(1, len(word) // 3)
    distances = [_osa_distance(word, candidate) for candidate in candidates]
    within = [d for d in distances if d <= reach]
    expected = candidates[distances.index(min(within))] if within else None
    assert suggest(word, candidates) == expected


def test_a_thousand_instance_types_take_milliseconds():
    instance_types = set().union(
        *(instances.instance_types(kind) for kind in instances.INSTANCE_KINDS)
    )
    candidates = sorted(instance_types)
    candidates += [name.replace("ml.", "sm.") for name in candidates]
    candidates = candidates[:1000]
    words = ["ml.m5.larg", "ml.zz.huge", "ml.g5.48xlargee", "completely-unrelated", "ml.t2.mediun"]
    started = time.perf_counter()
    for word in words:
        suggest(word, candidates)
    per_word = (time.perf_counter() - started) / len(words)
    # About a millisecond on the build machines; the bound only catches a lost pruning.
    assert per_word < 0.05

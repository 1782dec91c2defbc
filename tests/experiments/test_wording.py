"""The verdicts' small pieces of English: lists, counts, seeds and rises read as a person
writes them, never as Python prints them."""

from ravine.experiments.wording import by_seed, count, join, plural, rise, times


def test_join_lists_with_and():
    assert join([]) == ""
    assert join([1]) == "1"
    assert join([1, 2]) == "1 and 2"
    assert join(["a", "b", "c"]) == "a, b and c"
    assert join(["a", "b"], "or") == "a or b"


def test_a_count_has_no_decimal_point_unless_it_is_a_mean_between_counts():
    assert count(1.0) == "1"
    assert count(1200) == "1,200"
    assert count(2.5) == "2.5"
    assert count(194.5) == "194.5"  # a median of counts
    assert count(1234.5) == "1,234.5"


def test_plural_and_times():
    assert plural(1, "seed") == "1 seed"
    assert plural(3, "seed") == "3 seeds"
    assert plural(2, "network") == "2 networks"
    assert times(1) == "once" and times(2) == "twice" and times(59) == "59 times"


def test_a_spike_of_exactly_one_is_no_rise():
    assert rise(1.0) == "never rose above its start"
    assert rise(1.3) == "rose to ×1.3 its start"
    assert rise(1.05, "its first loss") == "rose to ×1.05 its first loss"
    assert rise(1.0004) == "rose at most 0.04% above its start"  # not "×1"


def test_by_seed_says_every_seed_or_names_them():
    assert by_seed([4], [0]) == "at step 4"
    assert by_seed([1, 1], [0, 1]) == "at step 1 in every seed"
    assert by_seed([4, 3], [0, 1]) == "at steps 4 and 3 (seeds 0 and 1)"
    assert by_seed([4, None], [0, 1]) == "at step 4 (seed 0) and never (seed 1)"
    assert by_seed([None, None], [0, 1]) == "never, in any seed"

"""The one polling helper the tools and tests share."""
import pytest

from rehsos_tools.waiting import wait_until


def test_it_returns_the_first_true_answer_and_names_the_last_on_timeout():
    answers = iter([0, None, "ready"])
    assert wait_until(lambda: next(answers), timeout=5, interval=0, sleep=lambda _: None) == "ready"
    with pytest.raises(TimeoutError, match=r"waiting for the hub \(last: 0\)"):
        wait_until(lambda: 0, timeout=0, interval=0, message="the hub")


def test_a_tolerated_error_is_not_yet_and_any_other_is_raised():
    calls = []

    def starting():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("refused")
        return True

    assert wait_until(starting, timeout=5, interval=0, tolerate=(ConnectionError,)) is True

    def down():
        raise ConnectionError("down")

    with pytest.raises(AssertionError, match="ConnectionError"):
        wait_until(down, timeout=0, interval=0, tolerate=(ConnectionError,), error=AssertionError)
    with pytest.raises(KeyError):
        wait_until(lambda: {}["x"], timeout=5, tolerate=(ConnectionError,))

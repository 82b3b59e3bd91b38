"""The arrival rate the dispatcher yields by: the notifications of the last second."""

from dispatcher.arrivals import ArrivalRate


def test_the_rate_counts_the_last_second_only() -> None:
    now = [0.0]
    rate = ArrivalRate(clock=lambda: now[0])
    for i in range(150):  # 200 a second, for 0.75 s
        now[0] = 100 + i / 200
        rate.note()
    assert rate.per_second() == 150
    now[0] += 0.5
    assert rate.per_second() == 100  # the arrivals of the last half second of them are still in the window
    now[0] += 0.5
    assert rate.per_second() == 0

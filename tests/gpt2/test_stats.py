"""gpt2.stats against values worked out by hand and against the printed t table."""

import math

import pytest

from gpt2.stats import paired_difference, summary, t_cdf, t_quantile

# Two-sided 95% critical values of Student's t, from any printed table (e.g. NIST/SEMATECH e-Handbook, 1.3.6.7.2).
T_TABLE_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 9: 2.262, 30: 2.042}


@pytest.mark.parametrize("df,expected", T_TABLE_975.items())
def test_t_quantile_matches_the_printed_table(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-3)


def test_t_quantile_tends_to_the_normal():
    assert t_quantile(0.975, 100_000) == pytest.approx(1.95996, abs=1e-3)
    assert t_quantile(0.5, 3) == pytest.approx(0.0, abs=1e-9)


def test_t_cdf_closed_form_at_one_degree_of_freedom():
    # df 1 is the Cauchy distribution: P(T <= x) = 1/2 + atan(x)/pi
    for x in (-3.0, 0.5, 2.0, 10.0):
        assert t_cdf(x, 1) == pytest.approx(0.5 + math.atan(x) / math.pi, abs=1e-6)


def test_summary_by_hand():
    s = summary([2.0, 4.0, 9.0])  # mean 5; squared deviations 9 + 1 + 16 = 26; sd = sqrt(26 / 2)
    assert (s.mean, s.n) == (5.0, 3)
    assert s.sd == pytest.approx(math.sqrt(13))
    assert summary([7.0]).sd == 0.0
    with pytest.raises(ValueError):
        summary([])


def test_paired_difference_by_hand():
    # differences 1.0, 2.0, 3.0, 2.0: mean 2, sd sqrt(2/3), half width t(0.975, 3) * sd / 2 = 3.182 * 0.8165 / 2
    d = paired_difference([10.0, 10.0, 10.0, 10.0], [11.0, 12.0, 13.0, 12.0])
    half = 3.182446 * math.sqrt(2 / 3) / 2
    assert d.mean == pytest.approx(2.0)
    assert (d.low, d.high) == (pytest.approx(2 - half, abs=1e-4), pytest.approx(2 + half, abs=1e-4))
    assert d.clear and d.n == 4


def test_pairing_cancels_shared_seed_noise():
    # a large seed-to-seed spread that both configs share: unpaired it would swamp the 0.01 effect, paired it does not
    a = [3.00, 3.50, 2.70]
    b = [2.99, 3.49, 2.69]
    d = paired_difference(a, b)
    assert d.mean == pytest.approx(-0.01) and d.clear
    noisy = paired_difference([3.0, 3.1, 2.9], [3.05, 3.0, 2.92])  # differences of both signs
    assert not noisy.clear


def test_paired_difference_needs_pairs():
    with pytest.raises(ValueError):
        paired_difference([1.0, 2.0], [1.0])
    one = paired_difference([1.0], [2.0])
    assert one.mean == 1.0 and math.isinf(one.low) and not one.clear

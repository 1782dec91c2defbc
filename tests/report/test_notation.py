"""Powers and indices written in plain text, as the report's page shows them."""

import pytest

from ravine.report.notation import marked_up


@pytest.mark.parametrize(
    ("plain", "shown"),
    [
        ("η^t", "η<sup>t</sup>"),
        ("σ_i^t", "σ<sub>i</sub><sup>t</sup>"),
        ("θ_i^{t+1}", "θ<sub>i</sub><sup>t+1</sup>"),
        (
            "d_model^−0.5·warmup^−0.5",
            "d_model<sup>−0.5</sup>·warmup<sup>−0.5</sup>",
        ),
        ("1 time in 2^seeds", "1 time in 2<sup>seeds</sup>"),
        ("m^t/(1−β1^t)", "m<sup>t</sup>/(1−β1<sup>t</sup>)"),
        ("η = 1.9/λ_max.", "η = 1.9/λ<sub>max</sub>."),
        ("(x̃_i^r − ŷ_i)", "(x̃<sub>i</sub><sup>r</sup> − ŷ<sub>i</sub>)"),
        ("0.5^⌊t/1000⌋", "0.5<sup>⌊t/1000⌋</sup>"),
        ("√(α(σ_i^{t−1})²", "√(α(σ<sub>i</sub><sup>t−1</sup>)²"),
        ("E‖g_B − g‖²", "E‖g<sub>B</sub> − g‖²"),
    ],
)
def test_powers_are_raised_and_indices_lowered(plain, shown):
    assert marked_up(plain) == shown


@pytest.mark.parametrize(
    "plain",
    [
        "ravine reproduce --quick --only batch-norm --out /tmp/bn_run",
        "x ^ y",  # a caret between spaces is not a power
        "step_num, warmup_steps, d_model",  # names of several letters keep their underscore
        "burst_peak_w_error and lambda_max_start",  # raw keys
        "see https://example.org/a_b/x^y?q=1_2",  # an address
        "loss &lt; 0.001 &amp; ‖g‖ &gt; 10",  # escaped text stays as it was
    ],
)
def test_what_is_not_a_power_or_an_index_is_left_alone(plain):
    assert marked_up(plain) == plain


def test_an_address_keeps_its_text_while_the_words_around_it_are_marked_up():
    plain = "η^t, as https://example.org/x_i^t says, and σ_i"
    assert marked_up(plain) == (
        "η<sup>t</sup>, as https://example.org/x_i^t says, and σ<sub>i</sub>"
    )

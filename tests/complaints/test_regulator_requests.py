"""A regulator is asked to act on the institution, not to stop collecting itself (four-reader review)."""

from complaints.letters import default_requests, request_text


def test_a_regulator_letter_asks_the_regulator_to_act_and_the_lender_to_stop():
    regulator = default_requests("regulator")
    assert {"order_stop", "investigate", "supervise_reply"} <= set(regulator)
    assert not {"stop_harassment", "stop_third_party", "identify_collector"} & set(regulator)
    # Each asks the regulator to do something a regulator does (order, investigate, supervise, deal with).
    assert all(
        any(word in request_text(code, "zh-hans") for word in ("责令", "督促", "依法", "依规"))
        for code in regulator
    )
    institution = default_requests("institution")
    assert {"stop_harassment", "stop_third_party", "identify_collector"} <= set(institution)
    assert "order_stop" not in institution

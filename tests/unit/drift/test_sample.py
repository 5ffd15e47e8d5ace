from services.drift_monitor.sample import BehaviourSample, FormatSignature, format_signature


def test_a_json_object_reports_its_sorted_top_level_keys():
    assert format_signature('{"status": "done", "files": [], "summary": "x"}') == FormatSignature(
        "json", ("files", "status", "summary")
    )


def test_a_json_array_is_json_without_keys():
    assert format_signature("[1, 2, 3]") == FormatSignature("json")


def test_broken_json_is_not_json():
    assert format_signature('{"status": ').kind != "json"


def test_headings_and_lists_are_markdown():
    assert format_signature("# Plan\n\n- design\n- code\n").kind == "markdown"


def test_a_single_fenced_block_is_code():
    assert format_signature("```python\nprint('x')\n```").kind == "code"


def test_lines_that_look_like_code_are_code():
    assert format_signature("def f(x):\n    return x + 1\n\nimport os\n").kind == "code"


def test_ordinary_sentences_are_plain():
    assert format_signature("I changed the parser. The tests pass now.").kind == "plain"


def test_a_supplied_signature_wins_over_the_derived_one():
    sample = BehaviourSample("a", "worker", "plain words", signature=FormatSignature("json", ("k",)))

    assert sample.format() == FormatSignature("json", ("k",))


def test_sample_survives_a_dict_round_trip():
    sample = BehaviourSample("a", "worker", "{}", frozenset({"grep", "read"}), True, 12.5, 40, FormatSignature("json"))

    assert BehaviourSample.from_dict(sample.to_dict()) == sample

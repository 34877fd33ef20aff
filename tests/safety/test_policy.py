"""The policy file: strict validation with errors that name the problem, and a content checksum."""

import json

import pytest

from so8t.safety.policy import PolicyError, load_policy, policy_from_dict


@pytest.fixture()
def policy_dict():
    return load_policy().model_dump(mode="json")


def test_packaged_policy_loads_with_categories_patterns_in_both_languages():
    policy = load_policy()
    assert policy.thresholds.escalate <= policy.thresholds.deny
    assert {"self_harm", "violence", "injection"} <= set(policy.categories)
    for kind in ("deny", "allow", "injection"):
        langs = {pattern.lang for pattern in getattr(policy.patterns, kind)}
        assert {"en", "ja"} <= langs, kind
    assert policy.cap("DENY", "self_harm") == "ESCALATE"
    assert policy.cap("DENY", "weapons") == "DENY"


def test_checksum_is_stable_and_follows_content(policy_dict, tmp_path):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy_dict, indent=4), encoding="utf-8")
    assert load_policy(path).checksum == load_policy().checksum  # formatting does not matter
    policy_dict["thresholds"]["deny"] = 0.99
    path.write_text(json.dumps(policy_dict), encoding="utf-8")
    assert load_policy(path).checksum != load_policy().checksum


def test_unknown_key_is_rejected_by_name(policy_dict):
    policy_dict["thresholds"]["denny"] = 0.5
    with pytest.raises(PolicyError, match=r"unknown key 'thresholds\.denny'"):
        policy_from_dict(policy_dict)
    policy_dict["thresholds"].pop("denny")
    policy_dict["extra_rules"] = []
    with pytest.raises(PolicyError, match="unknown key 'extra_rules'"):
        policy_from_dict(policy_dict)


def test_inverted_thresholds_bad_regex_and_unknown_category_are_named(policy_dict):
    bad = json.loads(json.dumps(policy_dict))
    bad["thresholds"] = {"escalate": 0.9, "deny": 0.2}
    with pytest.raises(PolicyError, match="escalate threshold 0.9 is above deny threshold 0.2"):
        policy_from_dict(bad)
    bad = json.loads(json.dumps(policy_dict))
    bad["patterns"]["deny"][0]["regex"] = "(unclosed"
    with pytest.raises(PolicyError, match="does not compile"):
        policy_from_dict(bad)
    bad = json.loads(json.dumps(policy_dict))
    bad["patterns"]["deny"][0]["category"] = "nonsense"
    with pytest.raises(PolicyError, match="unknown category 'nonsense'"):
        policy_from_dict(bad)


def test_missing_file_and_broken_json_give_clear_errors(tmp_path):
    with pytest.raises(PolicyError, match="cannot read policy"):
        load_policy(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema_version": 1,', encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid JSON"):
        load_policy(broken)

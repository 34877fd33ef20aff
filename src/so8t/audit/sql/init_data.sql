-- Seed data for a new audit database: the default policy and the first identity.
--
-- These rows go into TEMP staging tables; the store reads them and appends them through the hash chain in the
-- same transaction that creates the schema, so they are timestamped and chained like every later row.
-- The agent applies its own policy and registers its real fingerprint at start; both then become new versions
-- with a JSON Patch diff from these seeds.

CREATE TEMP TABLE seed_policy (name TEXT NOT NULL, content TEXT NOT NULL);
CREATE TEMP TABLE seed_identity (role_prompt TEXT NOT NULL, fingerprint TEXT NOT NULL);

INSERT INTO temp.seed_policy (name, content) VALUES ('default', json('{
    "description": "Fail-closed placeholder: denies everything until the agent applies its own policy.",
    "default_decision": "DENY",
    "on_error": "DENY",
    "thresholds": {"deny": 0.0, "escalate": 0.0},
    "allow_patterns": [],
    "deny_patterns": []
}'));

INSERT INTO temp.seed_identity (role_prompt, fingerprint) VALUES (
    'so8t local safety agent (placeholder: no agent has registered its identity with this store yet).',
    json('{
        "package_version": null,
        "base_model_sha256": null,
        "adapter_sha256": null,
        "gate_sha256": null,
        "safety_head_sha256": null,
        "policy_checksum": null
    }')
);

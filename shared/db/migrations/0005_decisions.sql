-- Read models of decisions: one row per decision, per round, per vote and per debate contribution.
-- Every column is written from architect.decisions.events only (keyed by decision id, so in order).
CREATE TABLE decisions (
    decision_id        text PRIMARY KEY,
    question           text,
    tier               text,
    status             text,
    electorate         jsonb,
    options            jsonb,
    protocol_override  text,
    ballot_via         text,
    requested_by       text,
    policy             jsonb,
    weights            jsonb,
    current_round      int,
    choice             text,
    decided_protocol   text,
    decided_by         text,
    final_tally        jsonb,
    reason             text,
    requires_approval  boolean,
    positions          jsonb,
    deadline           timestamptz,
    created_at         timestamptz,
    decided_at         timestamptz,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX decisions_by_status ON decisions (status);

CREATE TABLE decision_rounds (
    decision_id    text NOT NULL,
    round          int  NOT NULL,
    kind           text,
    protocol       text,
    term           int,
    deadline       timestamptz,
    opened_at      timestamptz,
    closed_at      timestamptz,
    why            text,
    outcome_choice text,
    round_tally    jsonb,
    round_reasons  jsonb,
    flagged        jsonb,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (decision_id, round)
);

-- The full audit trail of votes: every vote received, counted or not, with its weight and rationale.
-- status: counted | dropped (its voter equivocated in that round) | rejected | ignored.
CREATE TABLE decision_votes (
    decision_id    text NOT NULL,
    round          int  NOT NULL,
    voter          text NOT NULL,
    choice         text NOT NULL,
    weight         double precision,
    rationale      text,
    term           int,
    status         text,
    reason         text,
    recorded_at    timestamptz,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (decision_id, round, voter, choice)
);

CREATE TABLE decision_contributions (
    decision_id    text NOT NULL,
    round          int  NOT NULL,
    phase          text NOT NULL,
    agent          text NOT NULL,
    text           text,
    position       text,
    status         text,
    reason         text,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (decision_id, round, phase, agent)
);

-- Read models of the drift monitor: each agent's latest stability and drift breakdown, and the history of
-- alerts, reset requests, resets, recoveries, consolidations and coordination drift.
-- Every column is written from architect.drift.events only (keyed by agent id, so in order per agent).
CREATE TABLE agent_drift (
    agent_id            text PRIMARY KEY,
    role                text,
    status              text,
    stability           double precision,
    drift               double precision,
    semantic            double precision,
    format              double precision,
    tools               double precision,
    memory              double precision,
    interaction         int,
    anchors             int,
    baseline_size       int,
    last_alert_at       timestamptz,
    last_reset_at       timestamptz,
    last_consolidated_at timestamptz,
    updated_at          timestamptz NOT NULL
);

CREATE TABLE drift_alerts (
    event_id    text PRIMARY KEY,
    agent_id    text NOT NULL,
    kind        text NOT NULL,
    interaction int,
    stability   double precision,
    drift       double precision,
    threshold   double precision,
    details     jsonb,
    at          timestamptz NOT NULL
);
CREATE INDEX drift_alerts_by_agent ON drift_alerts (agent_id, at);

-- Read models operators look at: goals with their task DAGs, tasks by state, agents, approvals.
CREATE TABLE goals (
    goal_id         text PRIMARY KEY,
    goal_type       text,
    title           text,
    status          text,
    priority        int,
    submitted_by    text,
    method          text,
    plan_source     text,
    params          jsonb,
    reason          text,
    tasks_total     int,
    tasks_succeeded int,
    created_at      timestamptz,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX goals_by_status ON goals (status);

CREATE TABLE tasks (
    task_id           text PRIMARY KEY,
    goal_id           text        NOT NULL,
    operator          text,
    capability        text,
    tier              text,
    status            text,
    agent_id          text,
    attempt           int,
    depends_on        jsonb,
    requires_approval boolean,
    output            jsonb,
    error_class       text,
    error             text,
    tokens_used       int,
    duration_ms       int,
    created_at        timestamptz,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX tasks_by_goal ON tasks (goal_id);
CREATE INDEX tasks_by_status ON tasks (status);

CREATE TABLE agents (
    agent_id       text PRIMARY KEY,
    role           text,
    capabilities   jsonb,
    capacity       int,
    cost           double precision,
    model          text,
    status         text,
    in_flight      int,
    tokens_used    bigint,
    breaker_state  text,
    last_heartbeat timestamptz,
    registered_at  timestamptz,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE approvals (
    goal_id      text NOT NULL,
    task_id      text NOT NULL,
    operator     text,
    status       text,
    approver     text,
    comment      text,
    requested_at timestamptz,
    decided_at   timestamptz,
    PRIMARY KEY (goal_id, task_id)
);

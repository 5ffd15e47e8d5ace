-- Read models of sagas: one row per run and one per step, with attempts and compensation results.
-- Every column is written from architect.sagas.events only (keyed by saga id, so in order).
CREATE TABLE sagas (
    saga_id           text PRIMARY KEY,
    definition        text,
    version           int,
    status            text,
    params            jsonb,
    started_by        text,
    steps_total       int,
    failed_step       text,
    escalated_step    text,
    compensated_steps jsonb,
    reason            text,
    created_at        timestamptz,
    finished_at       timestamptz,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX sagas_by_status ON sagas (status);

CREATE TABLE saga_steps (
    saga_id                 text NOT NULL,
    step_index              int  NOT NULL,
    step_name               text,
    kind                    text,
    action                  text,
    compensation            text,
    status                  text,
    attempts                int,
    task_id                 text,
    last_error              text,
    output                  jsonb,
    compensation_status     text,
    compensation_attempts   int,
    compensation_task_id    text,
    compensation_error      text,
    compensation_manual     boolean,
    updated_at              timestamptz NOT NULL,
    PRIMARY KEY (saga_id, step_index)
);

-- Task attempts in flight per agent: the PN-Counters tasks-in-flight/agent/<agent id> of the shared CRDT state
-- (+1 when an attempt starts, -1 when it ends, both keyed by attempt), merged over every runtime replica.
CREATE TABLE tasks_in_flight (
    agent_id    text PRIMARY KEY,
    in_flight   bigint NOT NULL,
    started     bigint NOT NULL,
    ended       bigint NOT NULL,
    by_replica  jsonb NOT NULL,
    updated_at  timestamptz NOT NULL
);

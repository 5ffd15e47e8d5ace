-- The full event log (unique by event_id) and the projector's positions, written in the same transaction.
CREATE TABLE events (
    event_id       uuid PRIMARY KEY,
    type           text        NOT NULL,
    version        int         NOT NULL,
    occurred_at    timestamptz NOT NULL,
    producer       text        NOT NULL,
    stream_id      text        NOT NULL,
    correlation_id text        NOT NULL,
    causation_id   uuid,
    topic          text        NOT NULL,
    partition      int         NOT NULL,
    "offset"       bigint      NOT NULL,
    body           jsonb       NOT NULL
);
CREATE INDEX events_by_correlation ON events (correlation_id, occurred_at);
CREATE INDEX events_by_type ON events (type, occurred_at);

CREATE TABLE projector_offsets (
    projection  text   NOT NULL,
    topic       text   NOT NULL,
    partition   int    NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (projection, topic, partition)
);

CREATE TABLE dead_letters (
    dlq_offset       bigint PRIMARY KEY,
    reason           text        NOT NULL,
    error            text        NOT NULL,
    source_topic     text        NOT NULL,
    source_partition int         NOT NULL,
    source_offset    bigint      NOT NULL,
    consumer_group   text        NOT NULL,
    failed_at        timestamptz NOT NULL,
    key              bytea,
    value            bytea,
    redriven         boolean     NOT NULL DEFAULT false
);
CREATE INDEX dead_letters_by_reason ON dead_letters (reason);
-- The same rejection seen twice (a consumer re-read it before committing) is one dead letter.
CREATE UNIQUE INDEX dead_letters_by_source ON dead_letters (source_topic, source_partition, source_offset, consumer_group);

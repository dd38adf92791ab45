-- Nonces of requests signed ahead of the server's clock (fast client clocks). Requests
-- signed no later than a moment past the server's clock are checked in memory only; these
-- are the ones a restarted server could not otherwise refuse as replays (docs/security.md).
CREATE TABLE signed_nonces (
    access_key_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    signed_at BIGINT NOT NULL,
    PRIMARY KEY (access_key_id, nonce)
);
CREATE INDEX signed_nonces_by_time ON signed_nonces (signed_at);

-- SAML request IDs already answered, per issuer, kept until the request could no longer be
-- accepted anyway (IssueInstant + skew). Shared by every replica (A6; TM-2).
CREATE TABLE saml_request_ids (
    issuer      TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (issuer, request_id)
);
CREATE INDEX saml_request_ids_expiry ON saml_request_ids (expires_at);

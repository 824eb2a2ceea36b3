-- 17 (issue 25 part 2): a user signed in through the company's identity provider
-- (OpenID Connect) is linked to the provider's subject: the issuer and its `sub`, the
-- identifier the provider never reassigns. One subject per user and issuer, one user
-- per subject. The access log's sign-in rows name the same subject.
CREATE TABLE oidc_links (
   user_id INTEGER NOT NULL REFERENCES users(id),
   issuer TEXT NOT NULL,
   sub TEXT NOT NULL,
   linked_at TEXT NOT NULL,         -- UTC, fixed width
   PRIMARY KEY (issuer, sub),
   UNIQUE (user_id, issuer)
);

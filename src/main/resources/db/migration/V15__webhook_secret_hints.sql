-- Signing secrets encrypted at rest (issue 21). webhook_endpoints.secret and previous_secret now
-- hold "enc:v1:<key id>:<base64>" (webhooks.SecretBox: AES-256-GCM under
-- openbatch.webhooks.secret-key, the endpoint's id as associated data); the engines encrypt the
-- rows written in clear by earlier versions at their start, once a key is set. What the API shows
-- of a secret, "whsec_..." and its last four characters, is kept beside it, so that reading or
-- listing endpoints never needs the key.
alter table webhook_endpoints add column secret_hint text;
update webhook_endpoints set secret_hint = 'whsec_...' || right(secret, 4);
alter table webhook_endpoints alter column secret_hint set not null;

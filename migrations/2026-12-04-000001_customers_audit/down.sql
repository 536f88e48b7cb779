DROP INDEX users_email_trgm_idx;
DROP TABLE audit_purges;
DROP TABLE audit_log;
DROP FUNCTION audit_purge();
DROP FUNCTION audit_log_append_only();
DROP TABLE order_notes;
CREATE INDEX orders_user_created_idx ON orders (user_id, created_at DESC, id DESC);
DROP INDEX orders_user_figures_idx;
DROP INDEX users_active_admins_idx;
DROP INDEX users_tokens_revoked_idx;
DROP INDEX users_status_created_idx;
DROP INDEX users_role_created_idx;
DROP INDEX users_created_idx;
ALTER TABLE users DROP COLUMN tokens_revoked_at, DROP COLUMN token_generation, DROP COLUMN version,
    DROP COLUMN status;

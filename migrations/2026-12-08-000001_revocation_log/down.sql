DROP TABLE revocation_log;

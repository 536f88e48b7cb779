DROP TABLE email_fanout;
DROP TABLE email_deliveries;

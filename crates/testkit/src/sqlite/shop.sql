-- SQLite translation of shared/corpus/schema.sql: the same tables, columns, keys and indexes, and
-- comparable data (same row counts, same value patterns), in SQLite's dialect:
-- - serial/bigserial keys are INTEGER PRIMARY KEY (the rowid);
-- - timestamps are TEXT in SQLite's own 'YYYY-MM-DD HH:MM:SS' form (UTC), so datetime('now', ...)
--   comparisons work; dates are 'YYYY-MM-DD';
-- - jsonb is JSON text (checked with json_valid), text[] a JSON array;
-- - numeric(12,2) keeps its declared type (NUMERIC affinity), amounts are rounded to 2 places;
-- - billing.invoices becomes billing_invoices in main: an SQLite schema is an attached database
--   file, and the server refuses ATTACH;
-- - table comments do not exist in SQLite.
CREATE TABLE customers (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL,
  email       TEXT UNIQUE,
  region      TEXT,
  created_at  TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE TABLE orders (
  id           INTEGER PRIMARY KEY,
  customer_id  INTEGER NOT NULL REFERENCES customers(id),
  status       TEXT NOT NULL CHECK (status IN ('pending','paid','shipped','failed','refunded')),
  amount       NUMERIC(12,2) NOT NULL,
  currency     CHAR(3) NOT NULL DEFAULT 'EUR',
  metadata     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
  tags         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
  created_at   TEXT NOT NULL,
  updated_at   TEXT
);
CREATE INDEX orders_status_created_at ON orders (status, created_at);
CREATE TABLE "Order Items" (
  order_id  INTEGER REFERENCES orders(id),
  sku       TEXT NOT NULL,
  qty       INTEGER NOT NULL,
  PRIMARY KEY (order_id, sku)
);
CREATE TABLE billing_invoices (id INTEGER PRIMARY KEY, order_id INTEGER, issued_on TEXT, total NUMERIC(12,2));
CREATE TABLE canary (id INTEGER PRIMARY KEY, note TEXT);
INSERT INTO canary VALUES (1, 'must survive every attack');
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 200)
INSERT INTO customers (name, email, region, created_at)
  SELECT 'customer ' || n, 'c' || n || '@example.com',
         CASE n % 3 WHEN 0 THEN 'emea' WHEN 1 THEN 'amer' ELSE 'apac' END,
         datetime('now', '-' || n || ' days')
    FROM g;
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 20000)
INSERT INTO orders (customer_id, status, amount, metadata, tags, created_at, updated_at)
  SELECT 1 + n % 200,
         CASE n % 5 WHEN 0 THEN 'pending' WHEN 1 THEN 'paid' WHEN 2 THEN 'shipped' WHEN 3 THEN 'failed' ELSE 'refunded' END,
         round((n % 997) / 7.0, 2),
         json_object('channel', CASE n % 3 WHEN 0 THEN 'web' WHEN 1 THEN 'app' ELSE 'phone' END),
         json_array('t' || (n % 4)),
         datetime('now', '-' || ((n % 2000) * 17) || ' minutes'),
         datetime('now')
    FROM g;
INSERT INTO "Order Items" SELECT id, 'sku-' || (id % 50), 1 + id % 3 FROM orders WHERE id <= 5000;
INSERT INTO billing_invoices (order_id, issued_on, total)
  SELECT id, date('now'), amount FROM orders WHERE status = 'paid' ORDER BY id LIMIT 1000;
ANALYZE;

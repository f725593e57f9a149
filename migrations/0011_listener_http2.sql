-- HTTPS listeners may offer HTTP/2 to clients (ALPN h2); off by default, like nginx's `http2 off`.
ALTER TABLE listeners ADD COLUMN http2 INTEGER NOT NULL DEFAULT 0;

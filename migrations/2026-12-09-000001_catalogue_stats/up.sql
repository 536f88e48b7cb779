-- Product images and the admin statistics (API.md version 3).

-- `null`, an absolute https:// URL or a path starting with `/`, as checked by the domain; the
-- length is held here too.
ALTER TABLE products
    ADD COLUMN image_url TEXT
        CONSTRAINT products_image_url_length CHECK (char_length(image_url) BETWEEN 1 AND 2048);

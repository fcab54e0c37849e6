-- The style a product (GTIN) belongs to: its sizes (and colours) share it. Sales velocity pools
-- the sizes of a style (a shop x GTIN cell sells about one unit a month: alone it is noise).
ALTER TABLE products ADD COLUMN style text CHECK (style IS NULL OR length(style) BETWEEN 1 AND 64);
CREATE INDEX products_style ON products (style) WHERE style IS NOT NULL;

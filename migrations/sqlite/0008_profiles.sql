-- 8: each organisation's identity (name, identifier, DPO, representative, reminder
-- recipients, defaults) as a JSON object: see `crate::org::Profile`.
ALTER TABLE organisations ADD COLUMN profile TEXT NOT NULL DEFAULT '{}';

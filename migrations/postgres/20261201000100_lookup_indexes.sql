-- Indexes whose leading column is the looked-up ID, so that no index starting with
-- account_id alone competes with the primary key for a project's rows. PostgreSQL picked
-- (account_id, media_id) for "DELETE … WHERE account_id = $1 AND project_id = $2" when its
-- statistics predated the account's growth, and then read every link row of the account
-- on each UpdateEditingProject (docs/benchmarks.md, "PostgreSQL Update").
DROP INDEX project_timeline_media_by_media;
CREATE INDEX project_timeline_media_by_media ON project_timeline_media (media_id, account_id);

-- Deleting media detaches them from every project of the account by material_id.
CREATE INDEX project_materials_by_material ON project_materials (material_id, account_id);

-- Projects and their API keys, managed live through the admin API (issue 20). A project's id is
-- the string every other table already stores in its `project` column: proj_… for a project made
-- through the API, the configured name for one named in openbatch.auth.keys (a row is inserted
-- for it at start, so that the admin API lists it). No foreign key from those columns: data
-- written before this migration, or in open mode, names projects that have no row.
create table projects (
    id          text    primary key,
    name        text    not null,
    status      text    not null default 'active' check (status in ('active', 'archived')),
    created_at  bigint  not null,
    archived_at bigint,
    created_us  bigint  not null
);
-- the admin API's list: creation order, a keyset cursor (created_us, id)
create index projects_order on projects (created_us, id);

-- A key is kept as the SHA-256 of its secret (never the secret: it is shown once, at creation),
-- and the redacted form the API shows (sk-proj-…abcd). A revoked key keeps its row (revoked_at)
-- for the record; it is neither listed nor accepted.
create table project_keys (
    id           text    primary key,
    project_id   text    not null references projects (id),
    name         text    not null,
    sha256       bytea   not null unique,
    redacted     text    not null,
    created_at   bigint  not null,
    created_us   bigint  not null,
    last_used_at bigint,
    revoked_at   bigint
);
create index project_keys_order on project_keys (project_id, created_us, id) where revoked_at is null;

-- One row, bumped in the same transaction as every change that makes a key start or stop working
-- (a key created or revoked, a project archived). Each process polls it (a primary-key read) and
-- reloads its in-memory table of live keys only when it moved: a revoked key stops on every
-- replica within one poll, and a request never waits on the database to check its key.
create table key_epoch (
    id    integer primary key check (id = 1),
    epoch bigint  not null
);
insert into key_epoch (id, epoch) values (1, 0);

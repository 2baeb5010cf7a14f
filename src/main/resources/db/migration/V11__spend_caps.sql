-- Spend caps per project (issue 20; see docs/ARCHITECTURE.md, "Spend caps"). The caps are quotas
-- like the others (defaults in openbatch.quotas.spend-*, overrides in project_quotas; the US dollar
-- ones stored there in millionths of a dollar); what a project spent in the period is summed from
-- usage_hourly, which is written with the results, so it is exact after a crash.
--
-- A row here means the project is paused: no replica's engine sends its lines (they stay queued)
-- until the row goes, which the check (every engine, every second) does once the project's spend
-- of the period is under every cap again: the cap was raised, or the period rolled over.
-- quota: the cap reached (the one whose period ends last, when several are); since: unix seconds
-- of the pause; resumes_at: the end of that cap's period (unix seconds), when it resumes by itself.
create table spend_pauses (
    project    text   primary key,
    quota      text   not null,
    message    text   not null,
    since      bigint not null,
    resumes_at bigint not null
);

-- The spend of a project in a period: one index range per project (its hours since the period
-- began, every model), not every hour it ever had.
create index usage_hourly_project_hour on usage_hourly (project, hour);

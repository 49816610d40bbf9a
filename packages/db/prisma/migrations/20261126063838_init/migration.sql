-- CreateEnum
CREATE TYPE "workspace_role" AS ENUM ('admin', 'editor', 'reader');

-- CreateEnum
CREATE TYPE "actor_type" AS ENUM ('source', 'destination');

-- CreateEnum
CREATE TYPE "connector_network" AS ENUM ('none', 'host');

-- CreateEnum
CREATE TYPE "connection_status" AS ENUM ('active', 'inactive', 'deprecated');

-- CreateEnum
CREATE TYPE "schedule_type" AS ENUM ('manual', 'basic', 'cron');

-- CreateEnum
CREATE TYPE "schedule_time_unit" AS ENUM ('minutes', 'hours', 'days', 'weeks', 'months');

-- CreateEnum
CREATE TYPE "namespace_definition" AS ENUM ('source', 'destination', 'customformat');

-- CreateEnum
CREATE TYPE "non_breaking_changes_preference" AS ENUM ('ignore', 'disable', 'propagate_columns', 'propagate_fully');

-- CreateEnum
CREATE TYPE "job_type" AS ENUM ('sync', 'reset', 'check', 'discover');

-- CreateEnum
CREATE TYPE "job_status" AS ENUM ('pending', 'running', 'incomplete', 'failed', 'succeeded', 'cancelled');

-- CreateEnum
CREATE TYPE "attempt_status" AS ENUM ('running', 'failed', 'succeeded', 'cancelled');

-- CreateEnum
CREATE TYPE "workload_type" AS ENUM ('sync', 'check', 'discover', 'spec');

-- CreateEnum
CREATE TYPE "workload_status" AS ENUM ('pending', 'claimed', 'launched', 'running', 'success', 'failure', 'cancelled');

-- CreateEnum
CREATE TYPE "state_type" AS ENUM ('STREAM', 'GLOBAL', 'LEGACY');

-- CreateEnum
CREATE TYPE "notification_event" AS ENUM ('sync_success', 'sync_failure', 'sync_disabled', 'sync_disabled_warning', 'non_breaking_schema_change', 'breaking_schema_change');

-- CreateTable
CREATE TABLE "instance_settings" (
    "key" TEXT NOT NULL,
    "value" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "instance_settings_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "users" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "email" TEXT NOT NULL,
    "name" TEXT NOT NULL DEFAULT '',
    "password_hash" TEXT,
    "is_instance_admin" BOOLEAN NOT NULL DEFAULT false,
    "disabled_at" TIMESTAMPTZ(3),
    "last_login_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "workspaces" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "slug" TEXT NOT NULL,
    "dataplane_group" TEXT NOT NULL DEFAULT 'default',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "workspaces_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "workspace_memberships" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "workspace_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "role" "workspace_role" NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "workspace_memberships_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_tokens" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "user_id" UUID NOT NULL,
    "workspace_id" UUID,
    "name" TEXT NOT NULL,
    "token_hash" TEXT NOT NULL,
    "token_prefix" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3),
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "api_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sessions" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "user_id" UUID NOT NULL,
    "token_hash" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "last_seen_at" TIMESTAMPTZ(3),
    "user_agent" TEXT,
    "ip_address" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "dataplane_tokens" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "dataplane_group" TEXT NOT NULL DEFAULT 'default',
    "token_hash" TEXT NOT NULL,
    "token_prefix" TEXT NOT NULL,
    "created_by_id" UUID,
    "expires_at" TIMESTAMPTZ(3),
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "dataplane_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "connector_definitions" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "display_name" TEXT NOT NULL,
    "kind" "actor_type" NOT NULL,
    "version" TEXT NOT NULL,
    "image" TEXT NOT NULL,
    "command" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "spec" JSONB,
    "spec_fetched_at" TIMESTAMPTZ(3),
    "documentation_url" TEXT,
    "supports_socket" BOOLEAN NOT NULL DEFAULT false,
    "network" "connector_network" NOT NULL DEFAULT 'none',
    "resources" JSONB,
    "built_in" BOOLEAN NOT NULL DEFAULT false,
    "custom" BOOLEAN NOT NULL DEFAULT false,
    "workspace_id" UUID,
    "tombstone" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "connector_definitions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sources" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "workspace_id" UUID NOT NULL,
    "definition_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "config" JSONB NOT NULL,
    "tombstone" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sources_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "destinations" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "workspace_id" UUID NOT NULL,
    "definition_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "config" JSONB NOT NULL,
    "tombstone" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "destinations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "actor_catalogs" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "catalog" JSONB NOT NULL,
    "catalog_hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "actor_catalogs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "actor_catalog_fetch_events" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "actor_catalog_id" UUID NOT NULL,
    "source_id" UUID NOT NULL,
    "config_hash" TEXT NOT NULL,
    "connector_version" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "actor_catalog_fetch_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "connections" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "workspace_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "source_id" UUID NOT NULL,
    "destination_id" UUID NOT NULL,
    "status" "connection_status" NOT NULL DEFAULT 'active',
    "catalog" JSONB NOT NULL,
    "source_catalog_id" UUID,
    "namespace_definition" "namespace_definition" NOT NULL DEFAULT 'destination',
    "namespace_format" TEXT,
    "prefix" TEXT NOT NULL DEFAULT '',
    "schedule_type" "schedule_type" NOT NULL DEFAULT 'manual',
    "schedule_units" INTEGER,
    "schedule_time_unit" "schedule_time_unit",
    "cron_expression" TEXT,
    "cron_time_zone" TEXT,
    "resource_overrides" JSONB,
    "non_breaking_changes_preference" "non_breaking_changes_preference" NOT NULL DEFAULT 'ignore',
    "notify_schema_changes" BOOLEAN NOT NULL DEFAULT true,
    "breaking_change" BOOLEAN NOT NULL DEFAULT false,
    "schema_change" JSONB,
    "schema_change_detected_at" TIMESTAMPTZ(3),
    "state_generation" INTEGER NOT NULL DEFAULT 0,
    "state_version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "connections_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "connection_states" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "connection_id" UUID NOT NULL,
    "type" "state_type" NOT NULL,
    "stream_namespace" TEXT NOT NULL DEFAULT '',
    "stream_name" TEXT NOT NULL DEFAULT '',
    "state" JSONB NOT NULL,
    "generation" INTEGER NOT NULL DEFAULT 0,
    "version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "connection_states_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "jobs" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "workspace_id" UUID NOT NULL,
    "connection_id" UUID,
    "source_id" UUID,
    "destination_id" UUID,
    "type" "job_type" NOT NULL,
    "status" "job_status" NOT NULL DEFAULT 'pending',
    "config" JSONB NOT NULL,
    "started_at" TIMESTAMPTZ(3),
    "ended_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "jobs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "attempts" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "job_id" UUID NOT NULL,
    "attempt_number" INTEGER NOT NULL,
    "status" "attempt_status" NOT NULL DEFAULT 'running',
    "failure_summary" JSONB,
    "output" JSONB,
    "log_location" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "ended_at" TIMESTAMPTZ(3),

    CONSTRAINT "attempts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "stream_stats" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "attempt_id" UUID NOT NULL,
    "stream_namespace" TEXT NOT NULL DEFAULT '',
    "stream_name" TEXT NOT NULL,
    "records_emitted" BIGINT NOT NULL DEFAULT 0,
    "bytes_emitted" BIGINT NOT NULL DEFAULT 0,
    "records_committed" BIGINT NOT NULL DEFAULT 0,
    "bytes_committed" BIGINT NOT NULL DEFAULT 0,
    "records_rejected" BIGINT NOT NULL DEFAULT 0,
    "estimated_records" BIGINT,
    "estimated_bytes" BIGINT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "stream_stats_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "attempt_log_chunks" (
    "attempt_id" UUID NOT NULL,
    "sequence" INTEGER NOT NULL,
    "text" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "attempt_log_chunks_pkey" PRIMARY KEY ("attempt_id","sequence")
);

-- CreateTable
CREATE TABLE "workloads" (
    "id" TEXT NOT NULL,
    "auto_id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "type" "workload_type" NOT NULL,
    "status" "workload_status" NOT NULL DEFAULT 'pending',
    "dataplane_group" TEXT NOT NULL DEFAULT 'default',
    "priority" INTEGER NOT NULL DEFAULT 0,
    "mutex_key" TEXT,
    "claimed_by" TEXT,
    "deadline" TIMESTAMPTZ(3),
    "last_heartbeat_at" TIMESTAMPTZ(3),
    "input" JSONB NOT NULL,
    "output" JSONB,
    "signal_input" JSONB,
    "termination_reason" TEXT,
    "termination_source" TEXT,
    "attempt_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "claimed_at" TIMESTAMPTZ(3),
    "launched_at" TIMESTAMPTZ(3),
    "running_at" TIMESTAMPTZ(3),
    "ended_at" TIMESTAMPTZ(3),

    CONSTRAINT "workloads_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "notification_webhooks" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "workspace_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "events" "notification_event"[] DEFAULT ARRAY[]::"notification_event"[],
    "secret_header_name" TEXT,
    "secret_header_value" TEXT,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "notification_webhooks_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "users_email_key" ON "users"("email");

-- CreateIndex
CREATE UNIQUE INDEX "workspaces_slug_key" ON "workspaces"("slug");

-- CreateIndex
CREATE INDEX "workspace_memberships_user_id_idx" ON "workspace_memberships"("user_id");

-- CreateIndex
CREATE UNIQUE INDEX "workspace_memberships_workspace_id_user_id_key" ON "workspace_memberships"("workspace_id", "user_id");

-- CreateIndex
CREATE UNIQUE INDEX "api_tokens_token_hash_key" ON "api_tokens"("token_hash");

-- CreateIndex
CREATE INDEX "api_tokens_user_id_idx" ON "api_tokens"("user_id");

-- CreateIndex
CREATE INDEX "api_tokens_workspace_id_idx" ON "api_tokens"("workspace_id");

-- CreateIndex
CREATE UNIQUE INDEX "sessions_token_hash_key" ON "sessions"("token_hash");

-- CreateIndex
CREATE INDEX "sessions_user_id_idx" ON "sessions"("user_id");

-- CreateIndex
CREATE INDEX "sessions_expires_at_idx" ON "sessions"("expires_at");

-- CreateIndex
CREATE UNIQUE INDEX "dataplane_tokens_token_hash_key" ON "dataplane_tokens"("token_hash");

-- CreateIndex
CREATE INDEX "dataplane_tokens_dataplane_group_idx" ON "dataplane_tokens"("dataplane_group");

-- CreateIndex
CREATE INDEX "dataplane_tokens_created_by_id_idx" ON "dataplane_tokens"("created_by_id");

-- CreateIndex
CREATE UNIQUE INDEX "connector_definitions_name_key" ON "connector_definitions"("name");

-- CreateIndex
CREATE INDEX "connector_definitions_workspace_id_idx" ON "connector_definitions"("workspace_id");

-- CreateIndex
CREATE INDEX "connector_definitions_kind_idx" ON "connector_definitions"("kind");

-- CreateIndex
CREATE INDEX "sources_workspace_id_idx" ON "sources"("workspace_id");

-- CreateIndex
CREATE INDEX "sources_definition_id_idx" ON "sources"("definition_id");

-- CreateIndex
CREATE INDEX "destinations_workspace_id_idx" ON "destinations"("workspace_id");

-- CreateIndex
CREATE INDEX "destinations_definition_id_idx" ON "destinations"("definition_id");

-- CreateIndex
CREATE UNIQUE INDEX "actor_catalogs_catalog_hash_key" ON "actor_catalogs"("catalog_hash");

-- CreateIndex
CREATE INDEX "actor_catalog_fetch_events_source_id_created_at_idx" ON "actor_catalog_fetch_events"("source_id", "created_at");

-- CreateIndex
CREATE INDEX "actor_catalog_fetch_events_actor_catalog_id_idx" ON "actor_catalog_fetch_events"("actor_catalog_id");

-- CreateIndex
CREATE INDEX "connections_workspace_id_idx" ON "connections"("workspace_id");

-- CreateIndex
CREATE INDEX "connections_source_id_idx" ON "connections"("source_id");

-- CreateIndex
CREATE INDEX "connections_destination_id_idx" ON "connections"("destination_id");

-- CreateIndex
CREATE INDEX "connections_source_catalog_id_idx" ON "connections"("source_catalog_id");

-- CreateIndex
CREATE UNIQUE INDEX "connection_states_connection_id_stream_key" ON "connection_states"("connection_id", "stream_namespace", "stream_name");

-- CreateIndex
CREATE INDEX "jobs_connection_id_created_at_idx" ON "jobs"("connection_id", "created_at");

-- CreateIndex
CREATE INDEX "jobs_workspace_id_created_at_idx" ON "jobs"("workspace_id", "created_at");

-- CreateIndex
CREATE INDEX "jobs_status_idx" ON "jobs"("status");

-- CreateIndex
CREATE INDEX "jobs_source_id_idx" ON "jobs"("source_id");

-- CreateIndex
CREATE INDEX "jobs_destination_id_idx" ON "jobs"("destination_id");

-- CreateIndex
CREATE UNIQUE INDEX "attempts_job_id_attempt_number_key" ON "attempts"("job_id", "attempt_number");

-- CreateIndex
CREATE UNIQUE INDEX "stream_stats_attempt_id_stream_namespace_stream_name_key" ON "stream_stats"("attempt_id", "stream_namespace", "stream_name");

-- CreateIndex
CREATE UNIQUE INDEX "workloads_auto_id_key" ON "workloads"("auto_id");

-- CreateIndex
CREATE INDEX "workloads_status_deadline_idx" ON "workloads"("status", "deadline");

-- CreateIndex
CREATE INDEX "workloads_mutex_key_idx" ON "workloads"("mutex_key");

-- CreateIndex
CREATE INDEX "workloads_dataplane_group_status_priority_created_at_idx" ON "workloads"("dataplane_group", "status", "priority", "created_at");

-- CreateIndex
CREATE INDEX "workloads_claimed_by_status_idx" ON "workloads"("claimed_by", "status");

-- CreateIndex
CREATE INDEX "workloads_attempt_id_idx" ON "workloads"("attempt_id");

-- CreateIndex
CREATE INDEX "notification_webhooks_workspace_id_idx" ON "notification_webhooks"("workspace_id");

-- AddForeignKey
ALTER TABLE "workspace_memberships" ADD CONSTRAINT "workspace_memberships_workspace_id_fkey" FOREIGN KEY ("workspace_id") REFERENCES "workspaces"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "workspace_memberships" ADD CONSTRAINT "workspace_memberships_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_workspace_id_fkey" FOREIGN KEY ("workspace_id") REFERENCES "workspaces"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "dataplane_tokens" ADD CONSTRAINT "dataplane_tokens_created_by_id_fkey" FOREIGN KEY ("created_by_id") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "connector_definitions" ADD CONSTRAINT "connector_definitions_workspace_id_fkey" FOREIGN KEY ("workspace_id") REFERENCES "workspaces"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sources" ADD CONSTRAINT "sources_workspace_id_fkey" FOREIGN KEY ("workspace_id") REFERENCES "workspaces"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "sources" ADD CONSTRAINT "sources_definition_id_fkey" FOREIGN KEY ("definition_id") REFERENCES "connector_definitions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "destinations" ADD CONSTRAINT "destinations_workspace_id_fkey" FOREIGN KEY ("workspace_id") REFERENCES "workspaces"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "destinations" ADD CONSTRAINT "destinations_definition_id_fkey" FOREIGN KEY ("definition_id") REFERENCES "connector_definitions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "actor_catalog_fetch_events" ADD CONSTRAINT "actor_catalog_fetch_events_actor_catalog_id_fkey" FOREIGN KEY ("actor_catalog_id") REFERENCES "actor_catalogs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "actor_catalog_fetch_events" ADD CONSTRAINT "actor_catalog_fetch_events_source_id_fkey" FOREIGN KEY ("source_id") REFERENCES "sources"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "connections" ADD CONSTRAINT "connections_workspace_id_fkey" FOREIGN KEY ("workspace_id") REFERENCES "workspaces"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "connections" ADD CONSTRAINT "connections_source_id_fkey" FOREIGN KEY ("source_id") REFERENCES "sources"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "connections" ADD CONSTRAINT "connections_destination_id_fkey" FOREIGN KEY ("destination_id") REFERENCES "destinations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "connections" ADD CONSTRAINT "connections_source_catalog_id_fkey" FOREIGN KEY ("source_catalog_id") REFERENCES "actor_catalogs"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "connection_states" ADD CONSTRAINT "connection_states_connection_id_fkey" FOREIGN KEY ("connection_id") REFERENCES "connections"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_workspace_id_fkey" FOREIGN KEY ("workspace_id") REFERENCES "workspaces"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_connection_id_fkey" FOREIGN KEY ("connection_id") REFERENCES "connections"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_source_id_fkey" FOREIGN KEY ("source_id") REFERENCES "sources"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_destination_id_fkey" FOREIGN KEY ("destination_id") REFERENCES "destinations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "attempts" ADD CONSTRAINT "attempts_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "stream_stats" ADD CONSTRAINT "stream_stats_attempt_id_fkey" FOREIGN KEY ("attempt_id") REFERENCES "attempts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "attempt_log_chunks" ADD CONSTRAINT "attempt_log_chunks_attempt_id_fkey" FOREIGN KEY ("attempt_id") REFERENCES "attempts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "workloads" ADD CONSTRAINT "workloads_attempt_id_fkey" FOREIGN KEY ("attempt_id") REFERENCES "attempts"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "notification_webhooks" ADD CONSTRAINT "notification_webhooks_workspace_id_fkey" FOREIGN KEY ("workspace_id") REFERENCES "workspaces"("id") ON DELETE CASCADE ON UPDATE CASCADE;

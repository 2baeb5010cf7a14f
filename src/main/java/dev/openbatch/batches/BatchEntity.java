package dev.openbatch.batches;

import io.quarkus.hibernate.reactive.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

/**
 * A batch as the API sees it. The engine changes the same row with set-based SQL
 * (status, timestamps, counters); see {@code engine/}.
 */
@Entity
@Table(name = "batches")
public class BatchEntity extends PanacheEntityBase {
    @Id
    public String id;
    public String project;
    @Column(name = "job_id")
    public String jobId;
    public String endpoint;
    @Column(name = "input_file_id")
    public String inputFileId;
    @Column(name = "completion_window")
    public String completionWindow;
    public String status;
    public String model;
    public String upstream;
    @Column(name = "output_file_id")
    public String outputFileId;
    @Column(name = "error_file_id")
    public String errorFileId;
    public String errors;
    public String metadata;
    @Column(name = "output_expires_after")
    public Long outputExpiresAfter;
    @Column(name = "created_at")
    public long createdAt;
    @Column(name = "created_us")
    public long createdUs;
    @Column(name = "in_progress_at")
    public Long inProgressAt;
    @Column(name = "expires_at")
    public Long expiresAt;
    @Column(name = "finalizing_at")
    public Long finalizingAt;
    @Column(name = "completed_at")
    public Long completedAt;
    @Column(name = "failed_at")
    public Long failedAt;
    @Column(name = "expired_at")
    public Long expiredAt;
    @Column(name = "cancelling_at")
    public Long cancellingAt;
    @Column(name = "cancelled_at")
    public Long cancelledAt;
    public int total;
    public int completed;
    public int failed;
    @Column(name = "input_tokens")
    public long inputTokens;
    @Column(name = "output_tokens")
    public long outputTokens;
    @Column(name = "total_tokens")
    public long totalTokens;
    @Column(name = "idempotency_key")
    public String idempotencyKey;
    @Column(name = "request_hash")
    public String requestHash;
    public boolean validated;
    /** The secret of its lines' ids ({@code Ids.LineIds}); made by the database, never shown. */
    @Column(name = "line_key", insertable = false, updatable = false)
    public byte[] lineKey;
    /** When the purge of its lines began (its data expired; retention sets it, never the API), or null. */
    @Column(name = "data_purged_at", insertable = false, updatable = false)
    public Long dataPurgedAt;
}

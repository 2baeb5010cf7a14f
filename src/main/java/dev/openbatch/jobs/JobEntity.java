package dev.openbatch.jobs;

import dev.openbatch.api.Metadata;
import io.quarkus.hibernate.reactive.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

/** A Job definition: what batches belong to, with their default window and service level. */
@Entity
@Table(name = "jobs")
public class JobEntity extends PanacheEntityBase {
    @Id
    public String id;
    public String project;
    public String name;
    public String model;
    @Column(name = "completion_window")
    public String completionWindow;
    public int priority;
    @Column(name = "max_concurrency")
    public Integer maxConcurrency;
    public String metadata;
    @Column(name = "is_default")
    public boolean isDefault;
    @Column(name = "created_at")
    public long createdAt;
    @Column(name = "created_us")
    public long createdUs;

    public JobView view() {
        return new JobView(id, "job", name, model, completionWindow, priority, maxConcurrency,
                Metadata.fromJson(metadata), createdAt);
    }
}

package dev.openbatch.quotas;

import io.quarkus.hibernate.reactive.panache.PanacheEntityBase;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

/**
 * A project's row of {@code quota_locks}, for the creations made through Hibernate (batches,
 * webhook endpoints) to lock it in their own transaction, as the stores' do with {@code QuotaStore.lock}.
 */
@Entity
@Table(name = "quota_locks")
public class QuotaLock extends PanacheEntityBase {
    @Id
    public String project;
}

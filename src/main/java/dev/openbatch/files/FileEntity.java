package dev.openbatch.files;

import dev.openbatch.store.FileStore;

import io.quarkus.hibernate.reactive.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

/** A stored file's metadata; its bytes are rows of {@code file_chunks} (see {@link FileStore}). */
@Entity
@Table(name = "files")
public class FileEntity extends PanacheEntityBase {
    @Id
    public String id;
    public String project;
    public String purpose;
    public String filename;
    public long bytes;
    public String status;
    @Column(name = "created_at")
    public long createdAt;
    @Column(name = "expires_at")
    public Long expiresAt;
    @Column(name = "created_us")
    public long createdUs;
    @Column(name = "producer_batch_id")
    public String producerBatchId;
    /** Not null while the file is an upload in progress, which no read of the API sees (see {@code FileStore.beginUpload}). */
    @Column(name = "upload_until")
    public Long uploadUntil;

    /** The row as the store writes it. */
    public FileStore.NewFile row() {
        return new FileStore.NewFile(id, project, purpose, filename, bytes, status, createdAt, expiresAt, createdUs, producerBatchId);
    }

    public FileView view() {
        return new FileView(id, "file", bytes, createdAt, expiresAt, filename, purpose, status);
    }
}

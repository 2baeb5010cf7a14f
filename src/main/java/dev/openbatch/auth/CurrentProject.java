package dev.openbatch.auth;

import dev.openbatch.api.ApiException;
import jakarta.enterprise.context.RequestScoped;

/**
 * The caller of the request being served, set by {@link AuthFilter}: the project whose data it
 * reaches, and whether it came with the admin key. An admin request on the organization routes
 * has no project; on the other routes it reads the project its {@code OpenAI-Project} header names.
 */
@RequestScoped
public class CurrentProject {
    private String id;
    private boolean admin;

    public String id() {
        if (id == null) {
            throw new IllegalStateException("no authenticated project on this request");
        }
        return id;
    }

    /** The project, or null when the request has none (the admin key on the organization routes, or no key). */
    String known() { return id; }

    /** True for a request made with the admin key. */
    public boolean admin() { return admin; }

    /** Refuses (403 {@code insufficient_permissions}, with {@code message}) a request not made with the admin key. */
    public void requireAdmin(String message) {
        if (!admin) {
            throw ApiException.forbidden(message);
        }
    }

    void set(String id, boolean admin) {
        this.id = id;
        this.admin = admin;
    }
}

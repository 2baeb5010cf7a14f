package dev.openbatch.auth;

import jakarta.enterprise.context.RequestScoped;

/** The project of the request being served, set by {@link AuthFilter}. */
@RequestScoped
public class CurrentProject {
    private String id;

    public String id() {
        if (id == null) {
            throw new IllegalStateException("no authenticated project on this request");
        }
        return id;
    }

    void set(String id) { this.id = id; }
}

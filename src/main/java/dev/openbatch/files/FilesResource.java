package dev.openbatch.files;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.jboss.resteasy.reactive.RestMulti;
import org.jboss.resteasy.reactive.RestQuery;

import dev.openbatch.api.ApiException;
import dev.openbatch.api.HttpLayer;
import dev.openbatch.api.ListPage;
import dev.openbatch.api.Params;
import dev.openbatch.auth.CurrentProject;
import io.smallrye.mutiny.Uni;
import io.vertx.ext.web.RoutingContext;
import io.vertx.mutiny.core.buffer.Buffer;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

/** {@code /v1/files}: upload, list, get, download and delete, as the OpenAI Files API does. */
@Path("/v1/files")
public class FilesResource {
    private final FileService files;
    private final CurrentProject project;

    public FilesResource(FileService files, CurrentProject project) {
        this.files = files;
        this.project = project;
    }

    public record Deleted(String id, String object, boolean deleted) {
    }

    /** The form {@code POST /v1/files} reads (for the OpenAPI document: the body is read as it streams, not bound). */
    @Schema(name = "FileUpload")
    public static class UploadForm {
        @Schema(required = true, type = SchemaType.STRING, format = "binary", description = "the file")
        public String file;
        @Schema(required = true, description = "batch, assistants, fine-tune, vision, user_data or evals")
        public String purpose;
        @Schema(name = "expires_after[anchor]", description = "created_at")
        public String anchor;
        @Schema(name = "expires_after[seconds]", description = "3600 to 2592000")
        public Long seconds;
    }

    /**
     * Stores the upload as its body arrives (see {@code Upload}): no temporary file; the form's
     * fields are checked once the body has ended.
     */
    @POST
    @Consumes(MediaType.MULTIPART_FORM_DATA)
    @Produces(MediaType.APPLICATION_JSON)
    @RequestBody(required = true, content = @Content(mediaType = MediaType.MULTIPART_FORM_DATA, schema = @Schema(implementation = UploadForm.class)))
    public Uni<FileView> upload(RoutingContext routing) {
        if (routing.get(HttpLayer.BODY_REFUSED) != null) {
            // the body went over the limit and was cut short (the client has its 413): keep nothing of it
            throw ApiException.tooLarge("The upload is larger than allowed.", "file");
        }
        return files.upload(project.id(), routing);
    }

    @GET
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<ListPage<FileView>> list(@RestQuery String purpose, @RestQuery String limit, @RestQuery String order,
            @RestQuery String after) {
        return files.list(project.id(), purpose, Params.integer("limit", limit), order, after);
    }

    @GET
    @Path("{id}")
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<FileView> get(@PathParam("id") String id) {
        return files.get(project.id(), id);
    }

    /** The raw bytes, streamed chunk by chunk, whatever the Accept header asks for. */
    @GET
    @Path("{id}/content")
    public RestMulti<Buffer> content(@PathParam("id") String id) {
        String p = project.id();
        return RestMulti.fromUniResponse(files.owned(p, id),
                f -> files.content(f.id),
                f -> Map.of("Content-Type", List.of(f.filename.endsWith(".jsonl") || "batch_output".equals(f.purpose) || "batch".equals(f.purpose)
                        ? "application/jsonl" : MediaType.APPLICATION_OCTET_STREAM),
                        "Content-Disposition", List.of(contentDisposition(f.filename))));
    }

    /**
     * {@code Content-Disposition} for a download of {@code filename}, whatever characters it has
     * (RFC 6266): {@code filename} holds a plain ASCII stand-in (each character outside printable
     * ASCII, and each quote, backslash or percent sign, becomes {@code _}) for old clients, and when
     * that is not the name itself, {@code filename*} holds the name exactly, as UTF-8 percent-encoded
     * (RFC 8187; only letters, digits and {@code -._~} stay as they are), which clients prefer.
     */
    static String contentDisposition(String filename) {
        StringBuilder plain = new StringBuilder(filename.length());
        for (int i = 0; i < filename.length(); i++) {
            char c = filename.charAt(i);
            plain.append(c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '%' ? '_' : c);
        }
        String header = "attachment; filename=\"" + plain + "\"";
        if (plain.toString().equals(filename)) {
            return header;
        }
        StringBuilder encoded = new StringBuilder(filename.length() * 3);
        for (byte b : filename.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
                encoded.append((char) c);
            } else {
                encoded.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
            }
        }
        return header + "; filename*=UTF-8''" + encoded;
    }

    @DELETE
    @Path("{id}")
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<Deleted> delete(@PathParam("id") String id) {
        return files.delete(project.id(), id).replaceWith(new Deleted(id, "file", true));
    }
}

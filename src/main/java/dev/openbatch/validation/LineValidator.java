package dev.openbatch.validation;
import dev.openbatch.engine.dispatch.Result;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;

/**
 * Checks input lines one at a time, in one pass of a streaming parser: the line's {@code body} is
 * kept as the exact bytes the client wrote, so the upstream receives it unchanged. Two steps:
 * {@link #parse} reads the line for the rules that hold whatever the batch (done at upload, see
 * {@code FileIngest}), {@link #judge} applies the batch's (its endpoint, one model, unique
 * custom_ids); {@link #check} does both.
 * Not thread-safe: one instance reads one file.
 */
public class LineValidator {
    private static final JsonFactory JSON = JsonFactory.builder().build();

    private final String endpoint;
    /** The valid lines' custom_ids so far, as fingerprints: eight bytes a line whatever the id's length. */
    private final CustomIds customIds = new CustomIds();
    private String model;
    private String lineModel;

    public LineValidator(String endpoint) {
        this.endpoint = endpoint;
    }

    /** A valid line: ready to become a request row. */
    public record Line(int line, String customId, String body) {
    }

    /** Either a line or an error. */
    public record Result(Line line, BatchError error) {
    }

    /** The model every line asks for (the first line's), once a line has been read. */
    public String model() { return model; }

    /** Every line so far, read elsewhere (a file index's summary), asked for {@code model}: it binds the lines after them. */
    void allAsked(String model) {
        this.model = model;
    }

    /** The model the line last checked asks for (null when it names none, or could not be read that far). */
    public String lineModel() { return lineModel; }

    /** True for lines that hold nothing but white space (skipped, though they keep their number). */
    public static boolean blank(byte[] buf, int from, int to) {
        for (int i = from; i < to; i++) {
            byte b = buf[i];
            if (b != ' ' && b != '\t' && b != '\r' && b != '\n') {
                return false;
            }
        }
        return true;
    }

    /**
     * What a line says before any endpoint is known, as {@link #parse} reads it: its fields, the
     * first error that does not depend on the batch's endpoint ({@code early}: the line is not one
     * JSON object, its custom_id or method is wrong, its body is not UTF-8), the first error of its
     * body ({@code late}: checked after the url), where its body's bytes are in the buffer
     * ({@code bodyFrom}, {@code bodyTo}; -1 when it has no body object), and the model its body
     * names as far as the line could be read ({@code seenModel}, whatever else is wrong with it;
     * {@code model} is that of a line without errors of its own).
     */
    public record Parsed(String customId, String url, String model, BatchError early, BatchError late, int bodyFrom, int bodyTo,
            String seenModel) {
        static Parsed failed(BatchError early, String seenModel) {
            return new Parsed(null, null, null, early, null, -1, -1, seenModel);
        }
    }

    /** Checks the line in {@code buf[from, to)}; {@code number} is 1-based. */
    public Result check(byte[] buf, int from, int to, int number) {
        Parsed p = parse(buf, from, to, number);
        this.lineModel = p.seenModel();
        BatchError e = judge(number, p.customId(), p.url(), p.model(), p.early(), p.late());
        if (e != null) {
            return new Result(null, e);
        }
        return new Result(new Line(number, p.customId(), new String(buf, p.bodyFrom(), p.bodyTo() - p.bodyFrom(), StandardCharsets.UTF_8)), null);
    }

    /**
     * The rules that depend on the batch (its endpoint, the lines before this one) for a line
     * that {@link #parse} read, possibly long before (at upload): the error, or null when the line
     * is valid (it is then counted in: its model and custom_id bind the lines after it).
     */
    public BatchError judge(int number, String customId, String url, String lineModel, BatchError early, BatchError late) {
        if (early != null) {
            return early;
        }
        if (url == null) {
            return error(number, "missing_required_parameter", "Line " + number + " has no 'url'; it must be \"" + endpoint + "\".", "url");
        }
        if (!url.equals(endpoint)) {
            return error(number, "invalid_url", "'url' is \"" + clip(url) + "\" but the batch's endpoint is \"" + endpoint + "\".", "url");
        }
        if (late != null) {
            return late;
        }
        if (model == null) {
            model = lineModel;
        } else if (!model.equals(lineModel)) {
            return error(number, "mismatched_model", "Every line must use the same model: line " + number + " asks for \""
                    + clip(lineModel) + "\", earlier lines for \"" + clip(model) + "\".", "body.model");
        }
        if (!customIds.add(customId)) {
            return error(number, "duplicate_custom_id", "The custom_id \"" + clip(customId) + "\" appears more than once; each line needs its own.",
                    "custom_id");
        }
        return null;
    }

    /** Reads the line in {@code buf[from, to)} once, for the rules that hold whatever the batch; {@code number} is 1-based. */
    public static Parsed parse(byte[] buf, int from, int to, int number) {
        String customId = null;
        String method = null;
        String url = null;
        String lineModel = null;
        boolean hasBody = false;
        boolean bodyIsObject = false;
        int bodyStart = -1;
        int bodyEnd = -1;
        try (JsonParser p = JSON.createParser(buf, from, to - from)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return Parsed.failed(error(number, "invalid_json_line", "Line " + number + " is not a JSON object.", null), lineModel);
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken t = p.nextToken();
                switch (field) {
                    case "custom_id" -> {
                        if (t != JsonToken.VALUE_STRING) {
                            return Parsed.failed(error(number, "invalid_type", "'custom_id' must be a string.", "custom_id"), lineModel);
                        }
                        customId = p.getText();
                    }
                    case "method" -> method = t == JsonToken.VALUE_STRING ? p.getText() : t.asString();
                    case "url" -> url = t == JsonToken.VALUE_STRING ? p.getText() : null;
                    case "body" -> {
                        hasBody = true;
                        if (t == JsonToken.START_OBJECT) {
                            bodyIsObject = true;
                            bodyStart = (int) p.currentTokenLocation().getByteOffset();
                            lineModel = scanBody(p);
                            bodyEnd = (int) p.currentLocation().getByteOffset();
                        } else {
                            p.skipChildren();
                        }
                    }
                    default -> p.skipChildren();
                }
            }
            if (p.nextToken() != null) {
                return Parsed.failed(error(number, "invalid_json_line", "Line " + number + " has more than one JSON value.", null), lineModel);
            }
        } catch (JsonProcessingException e) {
            return Parsed.failed(error(number, "invalid_json_line", "Line " + number + " is not valid JSON: " + e.getOriginalMessage(), null), lineModel);
        } catch (IOException e) {
            return Parsed.failed(error(number, "invalid_json_line", "Line " + number + " could not be read.", null), lineModel);
        }
        if (bodyIsObject && !Utf8.valid(buf, from + bodyStart, from + bodyEnd)) {
            // the parser lets some malformed sequences through inside strings; the body is passed on as text
            return Parsed.failed(error(number, "invalid_json_line", "Line " + number + " is not valid UTF-8.", null), lineModel);
        }
        BatchError early = null;
        if (customId == null) {
            early = error(number, "missing_required_parameter", "Line " + number + " has no 'custom_id'.", "custom_id");
        } else if (customId.isEmpty() || customId.length() > 512) {
            early = error(number, "invalid_value", "'custom_id' must be 1 to 512 characters.", "custom_id");
        } else if (customId.indexOf('\0') >= 0) {
            early = error(number, "invalid_value", "'custom_id' must not contain NUL characters.", "custom_id");
        } else if (method == null) {
            early = error(number, "missing_required_parameter", "Line " + number + " has no 'method'; it must be \"POST\".", "method");
        } else if (!"POST".equals(method)) {
            early = error(number, "invalid_method", "'method' must be \"POST\", got \"" + clip(method) + "\".", "method");
        }
        if (early != null) {
            return Parsed.failed(early, lineModel);
        }
        BatchError late = null;
        if (!hasBody) {
            late = error(number, "missing_required_parameter", "Line " + number + " has no 'body'.", "body");
        } else if (!bodyIsObject) {
            late = error(number, "invalid_type", "'body' must be a JSON object.", "body");
        } else if (lineModel == null) {
            late = error(number, "missing_required_parameter", "Line " + number + " has no 'body.model' (or it is not a string).", "body.model");
        } else if (lineModel.indexOf('\0') >= 0) {
            late = error(number, "invalid_value", "'body.model' must not contain NUL characters.", "body.model");
        }
        return late != null ? new Parsed(customId, url, null, null, late, -1, -1, lineModel)
                : new Parsed(customId, url, lineModel, null, null, from + bodyStart, from + bodyEnd, lineModel);
    }

    /** Reads the body object's top level for "model"; leaves the parser on the body's END_OBJECT. */
    private static String scanBody(JsonParser p) throws IOException {
        String found = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String f = p.currentName();
            JsonToken t = p.nextToken();
            if ("model".equals(f) && t == JsonToken.VALUE_STRING) {
                found = p.getText();
            } else {
                p.skipChildren();
            }
        }
        return found;
    }

    private static BatchError error(int line, String code, String message, String param) {
        return new BatchError(code, message, param, line);
    }

    private static String clip(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }
}

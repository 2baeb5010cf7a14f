package dev.openbatch.batches;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;

import dev.openbatch.batches.BatchView.BatchError;

/**
 * Checks input lines one at a time, in one pass of a streaming parser: the line's {@code body} is
 * kept as the exact bytes the client wrote, so the upstream receives it unchanged.
 * Not thread-safe: one instance reads one file.
 */
public class LineValidator {
    private static final JsonFactory JSON = JsonFactory.builder().build();

    private final String endpoint;
    private final Set<String> customIds = new HashSet<>();
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

    /** Checks the line in {@code buf[from, to)}; {@code number} is 1-based. */
    public Result check(byte[] buf, int from, int to, int number) {
        this.lineModel = null;
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
                return error(number, "invalid_json_line", "Line " + number + " is not a JSON object.", null);
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken t = p.nextToken();
                switch (field) {
                    case "custom_id" -> {
                        if (t != JsonToken.VALUE_STRING) {
                            return error(number, "invalid_type", "'custom_id' must be a string.", "custom_id");
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
                            this.lineModel = lineModel;
                            bodyEnd = (int) p.currentLocation().getByteOffset();
                        } else {
                            p.skipChildren();
                        }
                    }
                    default -> p.skipChildren();
                }
            }
            if (p.nextToken() != null) {
                return error(number, "invalid_json_line", "Line " + number + " has more than one JSON value.", null);
            }
        } catch (JsonProcessingException e) {
            return error(number, "invalid_json_line", "Line " + number + " is not valid JSON: " + e.getOriginalMessage(), null);
        } catch (IOException e) {
            return error(number, "invalid_json_line", "Line " + number + " could not be read.", null);
        }
        if (customId == null) {
            return error(number, "missing_required_parameter", "Line " + number + " has no 'custom_id'.", "custom_id");
        }
        if (customId.isEmpty() || customId.length() > 512) {
            return error(number, "invalid_value", "'custom_id' must be 1 to 512 characters.", "custom_id");
        }
        if (customId.indexOf('\0') >= 0) {
            return error(number, "invalid_value", "'custom_id' must not contain NUL characters.", "custom_id");
        }
        if (method == null) {
            return error(number, "missing_required_parameter", "Line " + number + " has no 'method'; it must be \"POST\".", "method");
        }
        if (!"POST".equals(method)) {
            return error(number, "invalid_method", "'method' must be \"POST\", got \"" + clip(method) + "\".", "method");
        }
        if (url == null) {
            return error(number, "missing_required_parameter", "Line " + number + " has no 'url'; it must be \"" + endpoint + "\".", "url");
        }
        if (!url.equals(endpoint)) {
            return error(number, "invalid_url", "'url' is \"" + clip(url) + "\" but the batch's endpoint is \"" + endpoint + "\".", "url");
        }
        if (!hasBody) {
            return error(number, "missing_required_parameter", "Line " + number + " has no 'body'.", "body");
        }
        if (!bodyIsObject) {
            return error(number, "invalid_type", "'body' must be a JSON object.", "body");
        }
        if (lineModel == null) {
            return error(number, "missing_required_parameter", "Line " + number + " has no 'body.model' (or it is not a string).", "body.model");
        }
        if (lineModel.indexOf('\0') >= 0) {
            return error(number, "invalid_value", "'body.model' must not contain NUL characters.", "body.model");
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
        String body = new String(buf, from + bodyStart, bodyEnd - bodyStart, StandardCharsets.UTF_8);
        return new Result(new Line(number, customId, body), null);
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

    private static Result error(int line, String code, String message, String param) {
        return new Result(null, new BatchError(code, message, param, line));
    }

    private static String clip(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }
}

package dev.openbatch.engine.dispatch;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.JsonStringEncoder;

/** Reading an upstream's answer body: is it JSON, what tokens did it use, and its text as one line of JSON. */
public final class Answers {
    private static final JsonFactory JSON = JsonFactory.builder().build();

    private Answers() {
    }

    /** Token counts of one answer. */
    public record Usage(long input, long output, long total) {
        static final Usage NONE = new Usage(0, 0, 0);
    }

    /** What one read of an answer's body tells: whether it is JSON, and its token counts. */
    public record Scan(boolean json, Usage usage) {
        static final Scan NOT_JSON = new Scan(false, Usage.NONE);
    }

    /**
     * Reads the body once: checks it is one JSON value and takes the token counts of its
     * top-level {@code usage} (chat, completions, embeddings and the Responses API spellings).
     */
    public static Scan scan(String body) {
        long in = 0;
        long out = 0;
        long total = -1;
        try (JsonParser p = JSON.createParser(body)) {
            JsonToken first = p.nextToken();
            if (first == null) {
                return Scan.NOT_JSON;
            }
            if (first == JsonToken.START_OBJECT) {
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String f = p.currentName();
                    JsonToken t = p.nextToken();
                    if ("usage".equals(f) && t == JsonToken.START_OBJECT) {
                        while (p.nextToken() == JsonToken.FIELD_NAME) {
                            String u = p.currentName();
                            JsonToken v = p.nextToken();
                            if (v == JsonToken.VALUE_NUMBER_INT) {
                                switch (u) {
                                    case "prompt_tokens", "input_tokens" -> in = p.getLongValue();
                                    case "completion_tokens", "output_tokens" -> out = p.getLongValue();
                                    case "total_tokens" -> total = p.getLongValue();
                                    default -> {
                                    }
                                }
                            } else {
                                p.skipChildren();
                            }
                        }
                    } else {
                        p.skipChildren();
                    }
                }
            } else {
                p.skipChildren();
            }
            if (p.nextToken() != null) {
                return Scan.NOT_JSON;
            }
        } catch (Exception e) {
            return Scan.NOT_JSON;
        }
        return new Scan(true, new Usage(in, out, total < 0 ? in + out : total));
    }

    /**
     * The body as one line of JSON: JSON keeps its text (raw line breaks can only be white space
     * between tokens, so they become spaces); anything else becomes a JSON string.
     */
    static String oneLine(String body, boolean json) {
        if (body == null) {
            return "null";
        }
        if (!json) {
            return "\"" + new String(JsonStringEncoder.getInstance().quoteAsString(body)) + "\"";
        }
        return (body.indexOf('\n') >= 0 || body.indexOf('\r') >= 0 ? body.replace('\n', ' ').replace('\r', ' ') : body).strip();
    }

    public static String oneLine(String body) {
        return body == null ? "null" : oneLine(body, scan(body).json());
    }
}

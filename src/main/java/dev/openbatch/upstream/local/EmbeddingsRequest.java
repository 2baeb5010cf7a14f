package dev.openbatch.upstream.local;

import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The body of one {@code /v1/embeddings} line, checked as OpenAI checks it: {@code model},
 * {@code input} (a string or an array of strings), {@code encoding_format} ({@code float} or
 * {@code base64}), {@code dimensions} (only {@value LocalEmbeddings#DIMENSIONS}); {@code user}
 * and fields this model has no use for are ignored.
 */
record EmbeddingsRequest(List<String> texts, boolean base64) {
    /** OpenAI's own cap on inputs per request. */
    static final int MAX_INPUTS = 2048;

    /** A body the model cannot answer; becomes a 400 with the OpenAI error envelope. */
    static final class Invalid extends Exception {
        final String param;
        final String code;

        Invalid(String message, String param, String code) {
            super(message, null, false, false);
            this.param = param;
            this.code = code;
        }
    }

    static EmbeddingsRequest parse(ObjectMapper json, String body) throws Invalid {
        JsonNode root;
        try {
            root = body == null ? null : json.readTree(body);
        } catch (JsonProcessingException e) {
            root = null;
        }
        if (root == null || !root.isObject()) {
            throw new Invalid("We could not parse the JSON body of your request: it must be a JSON object.", null, null);
        }
        JsonNode model = root.get("model");
        if (model == null || model.isNull()) {
            throw new Invalid("You must provide a model parameter.", "model", null);
        }
        if (!model.isTextual() || !LocalEmbeddings.MODEL.equals(model.textValue())) {
            throw new Invalid("The model `" + shorten(model.isTextual() ? model.textValue() : model.toString())
                    + "` is not served here; the built-in engine serves `" + LocalEmbeddings.MODEL + "`.", "model", "model_not_found");
        }
        List<String> texts = texts(root.get("input"));
        JsonNode format = root.get("encoding_format");
        boolean base64 = false;
        if (format != null && !format.isNull()) {
            if (format.isTextual() && format.textValue().equals("base64")) {
                base64 = true;
            } else if (!(format.isTextual() && format.textValue().equals("float"))) {
                throw new Invalid("Invalid value for 'encoding_format': it must be 'float' or 'base64'.", "encoding_format", null);
            }
        }
        JsonNode dimensions = root.get("dimensions");
        if (dimensions != null && !dimensions.isNull()
                && !(dimensions.isIntegralNumber() && dimensions.canConvertToInt() && dimensions.intValue() == LocalEmbeddings.DIMENSIONS)) {
            throw new Invalid("This model only makes " + LocalEmbeddings.DIMENSIONS + "-dimensional embeddings; 'dimensions' must be "
                    + LocalEmbeddings.DIMENSIONS + " or left out.", "dimensions", null);
        }
        return new EmbeddingsRequest(texts, base64);
    }

    private static List<String> texts(JsonNode input) throws Invalid {
        if (input == null || input.isNull()) {
            throw new Invalid("You must provide an input parameter.", "input", null);
        }
        if (input.isTextual()) {
            if (input.textValue().isBlank()) {
                throw new Invalid("'input' must not be empty or only whitespace.", "input", null);
            }
            return List.of(input.textValue());
        }
        if (!input.isArray()) {
            throw new Invalid("'input' must be a string or an array of strings.", "input", null);
        }
        if (input.isEmpty()) {
            throw new Invalid("'input' must not be an empty array.", "input", null);
        }
        if (input.size() > MAX_INPUTS) {
            throw new Invalid("'input' has " + input.size() + " items; at most " + MAX_INPUTS + " are allowed.", "input", null);
        }
        List<String> out = new ArrayList<>(input.size());
        for (int i = 0; i < input.size(); i++) {
            JsonNode item = input.get(i);
            if (!item.isTextual()) {
                throw new Invalid("'input' must be a string or an array of strings (token arrays are not supported here); item "
                        + i + " is not a string.", "input", null);
            }
            if (item.textValue().isBlank()) {
                throw new Invalid("'input' item " + i + " must not be empty or only whitespace.", "input", null);
            }
            out.add(item.textValue());
        }
        return out;
    }

    private static String shorten(String s) {
        return s.length() > 100 ? s.substring(0, 100) + "…" : s;
    }
}

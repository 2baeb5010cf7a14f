package dev.openbatch.upstream.local;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.openbatch.api.ApiError;
import dev.openbatch.upstream.UpstreamResponse;

/** The answers of the built-in model, in the OpenAI shapes. */
final class EmbeddingsJson {
    private EmbeddingsJson() {
    }

    /**
     * {@code {"object":"list","data":[{"object":"embedding","index":i,"embedding":…}],"model":…,"usage":{…}}};
     * with {@code base64} each embedding is the base64 of its little-endian float32 values, as OpenAI sends it.
     */
    static String list(ObjectMapper json, float[][] vectors, boolean base64, long promptTokens) {
        StringWriter out = new StringWriter(64 + vectors.length * (base64 ? 2100 : 4200));
        try (JsonGenerator g = json.getFactory().createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("object", "list");
            g.writeArrayFieldStart("data");
            for (int i = 0; i < vectors.length; i++) {
                g.writeStartObject();
                g.writeStringField("object", "embedding");
                g.writeNumberField("index", i);
                g.writeFieldName("embedding");
                if (base64) {
                    g.writeString(base64(vectors[i]));
                } else {
                    g.writeStartArray();
                    for (float f : vectors[i]) {
                        g.writeNumber(f);
                    }
                    g.writeEndArray();
                }
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeStringField("model", LocalEmbeddings.MODEL);
            g.writeObjectFieldStart("usage");
            g.writeNumberField("prompt_tokens", promptTokens);
            g.writeNumberField("total_tokens", promptTokens);
            g.writeEndObject();
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    static String base64(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return Base64.getEncoder().encodeToString(b.array());
    }

    /** An answer with the OpenAI error envelope. */
    static UpstreamResponse error(ObjectMapper json, int status, String message, String type, String param, String code) {
        try {
            return new UpstreamResponse(status, json.writeValueAsString(ApiError.of(message, type, param, code)), null, null);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}

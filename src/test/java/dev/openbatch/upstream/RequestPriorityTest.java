package dev.openbatch.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** {@code request-priority}: the field goes first in the body's object, and the line's own value wins. */
class RequestPriorityTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void theFieldGoesFirstInTheObject() throws Exception {
        String out = HttpUpstream.withPriority("{\"model\":\"m\",\"messages\":[]}", "\"priority\":5");
        assertEquals("{\"priority\":5,\"model\":\"m\",\"messages\":[]}", out);
        assertEquals(5, JSON.readTree(out).get("priority").asInt());
    }

    @Test
    void anEmptyObjectAndLeadingSpaceStayValid() throws Exception {
        assertEquals("{\"priority\":-1}", HttpUpstream.withPriority("{}", "\"priority\":-1"));
        JsonNode spaced = JSON.readTree(HttpUpstream.withPriority("  { \n } ", "\"priority\":2"));
        assertEquals(2, spaced.get("priority").asInt());
        JsonNode indented = JSON.readTree(HttpUpstream.withPriority(" {\n  \"model\": \"m\"\n}", "\"priority\":2"));
        assertEquals("m", indented.get("model").asText());
        assertEquals(2, indented.get("priority").asInt());
    }

    @Test
    void theLinesOwnPriorityWins() throws Exception {
        String out = HttpUpstream.withPriority("{\"model\":\"m\",\"priority\":9}", "\"priority\":1");
        assertEquals(9, JSON.readTree(out).get("priority").asInt(), "the last member of a name wins: " + out);
    }

    @Test
    void withoutTheSettingOrAnObjectTheBodyIsUntouched() {
        assertEquals("{\"a\":1}", HttpUpstream.withPriority("{\"a\":1}", null));
        assertEquals("[1]", HttpUpstream.withPriority("[1]", "\"priority\":1"));
        assertEquals("", HttpUpstream.withPriority("", "\"priority\":1"));
    }
}
